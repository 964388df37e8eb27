"""The event envelope: what a subscriber can rely on in every message, and its JSON form."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from marshmallow import ValidationError

from shared.messaging.envelope import EnvelopeSchema, RawJson, json_default, to_json

EVENT_ID = uuid.UUID("6f1c2d3e-4b5a-4c6d-8e7f-901234567890")


def envelope(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(EVENT_ID),
        "type": "billing.invoice.paid",
        "version": 1,
        "occurred_at": "2024-03-01T10:00:00Z",
        "source": "billing",
        "subject": "inv-1",
        "sequence": 3,
        "correlation_id": "req-1",
        "causation_id": None,
        "data": {"invoice_id": "inv-1"},
    }
    body.update(changes)
    return body


def test_a_complete_envelope_loads() -> None:
    loaded = EnvelopeSchema().load(envelope())

    assert loaded["id"] == EVENT_ID
    assert loaded["type"] == "billing.invoice.paid"
    assert loaded["occurred_at"] == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    assert loaded["sequence"] == 3
    assert loaded["data"] == {"invoice_id": "inv-1"}


def test_correlation_and_causation_are_optional() -> None:
    body = envelope()
    del body["correlation_id"], body["causation_id"]

    loaded = EnvelopeSchema().load(body)

    assert loaded["correlation_id"] is None
    assert loaded["causation_id"] is None


def test_envelope_fields_added_later_are_ignored() -> None:
    loaded = EnvelopeSchema().load(envelope(tenant="acme"))

    assert "tenant" not in loaded


@pytest.mark.parametrize(
    "name",
    ["id", "type", "version", "occurred_at", "source", "subject", "sequence", "data"],
)
def test_an_envelope_missing_a_required_field_is_rejected(name: str) -> None:
    body = envelope()
    del body[name]

    with pytest.raises(ValidationError) as caught:
        EnvelopeSchema().load(body)

    assert set(caught.value.messages) == {name}


@pytest.mark.parametrize(
    "event_type",
    [
        "billing.invoice",
        "billing.invoice.paid.v1",
        "Billing.Invoice.Paid",
        "billing-invoice-paid",
        "billing.invoice.paid ",
        "billing..paid",
        "",
    ],
)
def test_a_type_not_of_the_form_service_entity_action_is_rejected(event_type: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EnvelopeSchema().load(envelope(type=event_type))

    assert set(caught.value.messages) == {"type"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("id", "not-a-uuid"),
        ("sequence", 0),
        ("version", 0),
        ("subject", ""),
        ("occurred_at", "2024-03-01T10:00:00"),  # no offset: ambiguous
        ("data", ["not", "an", "object"]),
    ],
)
def test_an_envelope_field_with_a_bad_value_is_rejected(name: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        EnvelopeSchema().load(envelope(**{name: value}))

    assert set(caught.value.messages) == {name}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("120.50"), "120.50"),
        (Decimal("1200"), "1200"),
        (dt.date(2024, 2, 29), "2024-02-29"),
        (dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.UTC), "2024-03-01T10:00:00Z"),
        (
            dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-03-01T12:00:00+02:00",
        ),
        (EVENT_ID, str(EVENT_ID)),
    ],
)
def test_json_default_writes_the_wire_form(value: object, expected: str) -> None:
    assert json_default(value) == expected


def test_json_default_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="set"):
        json_default({1, 2})


def test_to_json_is_compact_keeps_unicode_and_amounts_as_strings() -> None:
    payload = {
        "id": EVENT_ID,
        "name": "Αθηνά Hotels",
        "amount": Decimal("0.10"),
        "date": dt.date(2024, 3, 1),
        "at": dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC),
        "lines": [{"net": Decimal("5.00")}],
    }

    text = to_json(payload)

    assert ", " not in text and ": " not in text
    assert "Αθηνά Hotels" in text
    assert json.loads(text) == {
        "id": str(EVENT_ID),
        "name": "Αθηνά Hotels",
        "amount": "0.10",
        "date": "2024-03-01",
        "at": "2024-03-01T09:30:00Z",
        "lines": [{"net": "5.00"}],
    }


def test_to_json_output_loads_back_through_the_envelope_schema() -> None:
    text = to_json(
        {
            **envelope(),
            "id": EVENT_ID,
            "occurred_at": dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC),
            "data": {"amount": Decimal("1.00")},
        }
    )

    loaded = EnvelopeSchema().load(json.loads(text))

    assert loaded["id"] == EVENT_ID
    assert loaded["occurred_at"] == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    assert loaded["data"] == {"amount": "1.00"}


def test_to_json_puts_raw_json_text_in_unchanged_wherever_it_is() -> None:
    listed = '[{"payment_id":"p-1","amount":"1.00"},{"payment_id":"p-2","amount":"0.50"}]'
    value = {
        "data": {
            "payments": RawJson(listed),
            "note": "tameio-raw-json-0",
            "total": Decimal("1.50"),
        },
        "more": [RawJson("[]"), RawJson('{"a":"\\u00e9"}')],
    }

    text = to_json(value)

    assert listed in text and '"note":"tameio-raw-json-0"' in text
    assert json.loads(text) == {
        "data": {"payments": json.loads(listed), "note": "tameio-raw-json-0", "total": "1.50"},
        "more": [[], {"a": "é"}],
    }
    assert RawJson(listed).value() == json.loads(listed)
