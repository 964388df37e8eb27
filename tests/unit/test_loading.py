"""The compiled loaders of the catalog accept only what marshmallow accepts, with the same
result, and leave every refusal (and its message) to marshmallow."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validates_schema

from shared.events import CATALOG
from shared.events.loading import SchemaLoader, Unsure, field_reader, schema_reader
from shared.messaging.envelope import EnvelopeSchema
from tests.support.events import body_of, customer_data, envelope, invoice_data

SCHEMAS = {f"{t}.v{v}": spec.instance for (t, v), spec in CATALOG.items()}
SCHEMAS["envelope"] = EnvelopeSchema()

# Forms a field may meet on the wire: right ones, near misses and plain wrong ones.
ODD = [None, "", "x", 0, 1, -1, 1.5, True, False, [], {}, 2**70, "1e3", " 7 ", "٣"]
FORMS: dict[type, list[Any]] = {
    fields.String: ["Acme Ltd", "a" * 65, "eur", "EUR", "XYZ", "\ud800", "a.b.c", "A.b.c"],
    fields.Integer: [2, "5", 5.0, 5.5, -3, "x1"],
    fields.Boolean: ["true", "yes", 1, 0],
    fields.Decimal: ["12.50", "0", "-3.1", "1E+3", "NaN", "-Infinity", "sNaN", "1_0", 12, 2.5],
    fields.UUID: [
        str(uuid.UUID(int=7)),
        str(uuid.UUID(int=7)).upper(),
        uuid.UUID(int=7).hex,
        "{" + str(uuid.UUID(int=7)) + "}",
        "urn:uuid:" + str(uuid.UUID(int=7)),
    ],
    fields.Date: ["2026-11-02", "20261102", "2026-W45-1", "2026-13-01", "2026-11-02T10:00"],
    fields.AwareDateTime: [
        "2026-11-02T10:00:00Z",
        "2026-11-02T10:00:00.123456+00:00",
        "2026-11-02T10:00:00+02:00",
        "2026-11-02T10:00:00",
        "2026-11-02",
        "2026-11-02 10:00:00Z",
    ],
}


def field_forms(field: fields.Field, depth: int, clean: bool) -> st.SearchStrategy[Any]:
    """Values for ``field``: when ``clean`` only ones both loaders take, else any."""
    odd = st.sampled_from(ODD)
    if isinstance(field, fields.Nested):
        nested = objects(field.schema, depth + 1, clean)
        return nested if clean else st.one_of(odd, nested)
    if isinstance(field, fields.List):
        items = st.lists(field_forms(field.inner, depth, clean), max_size=3)
        return items if clean else st.one_of(odd, items)
    if isinstance(field, fields.Dict):
        keys, values = st.sampled_from(["S", "R", "Z"]), st.sampled_from(["24", "x", None, 6])
        return (
            st.dictionaries(keys, values)
            if clean
            else st.one_of(odd, st.dictionaries(keys, values))
        )
    forms = next(forms for kind, forms in FORMS.items() if isinstance(field, kind))
    if clean:
        return st.sampled_from([form for form in forms + ODD if takes(field, form)])
    return st.one_of(st.sampled_from(forms), odd)


def takes(field: fields.Field, value: Any) -> bool:
    """Whether marshmallow and the compiled reader both take ``value`` for ``field``."""
    reader = field_reader(field)
    assert reader is not None
    try:
        field.deserialize(value)
        reader(value)
    except (ValidationError, Unsure):
        return False
    return True


def objects(schema: Schema, depth: int, clean: bool) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects shaped like ``schema``, with an unknown field; unless ``clean``, any
    field may be left out or null."""
    if depth > 2:
        return st.just({})
    present = {
        name: field_forms(field, depth, clean).map(lambda v: ("set", v))
        for name, field in schema.load_fields.items()
    }
    chosen = {
        name: value
        if clean and schema.load_fields[name].required
        else st.one_of(st.just(("omit", None)), st.just(("set", None)), value, value)
        for name, value in present.items()
    }
    return st.fixed_dictionaries(chosen).map(
        lambda picked: {k: v for k, (how, v) in picked.items() if how == "set"} | {"new": 1}
    )


def same(fast: Any, slow: Any) -> bool:
    """Equal values of the same types, dict keys in the same order, Decimals of the same
    exponent, datetimes with the same offset."""
    if type(fast) is not type(slow):
        return False
    if isinstance(fast, dict):
        return list(fast) == list(slow) and all(same(fast[k], slow[k]) for k in fast)
    if isinstance(fast, list):
        return len(fast) == len(slow) and all(map(same, fast, slow))
    if isinstance(fast, decimal.Decimal | dt.date):
        return str(fast) == str(slow)
    return bool(fast == slow)


def check_against_marshmallow(schema: Schema, data: Any) -> bool:
    """Whether the compiled reader took ``data`` by itself; fails if it took what marshmallow
    refuses or loaded it differently."""
    reader = schema_reader(schema)
    assert reader is not None
    try:
        fast = reader(data)
    except Unsure:
        return False
    try:
        slow = schema.load(data)
    except ValidationError as exc:
        raise AssertionError(f"compiled reader accepted what marshmallow refuses: {exc}") from exc
    assert same(fast, slow), (fast, slow)
    return True


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_catalog_schema_and_the_envelope_compile(name: str) -> None:
    assert SchemaLoader(SCHEMAS[name]).reader is not None


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=120, deadline=None)
@given(data=st.data(), clean=st.booleans())
def test_what_the_compiled_reader_accepts_marshmallow_loads_the_same(
    name: str, data: st.DataObject, clean: bool
) -> None:
    schema = SCHEMAS[name]
    check_against_marshmallow(schema, data.draw(objects(schema, 0, clean)))


def test_the_events_of_the_flow_take_the_compiled_path() -> None:
    customer_id = str(uuid.uuid4())
    day = dt.date(2026, 11, 2)
    customer = envelope("customers.customer.created", customer_id, 1, customer_data(customer_id))
    invoice = envelope(
        "billing.invoice.issued",
        customer_id,
        2,
        invoice_data(customer_id, "INV-1", issue_date=day, due_date=day),
    )
    for event in (customer, invoice):
        wire = json.loads(body_of(event))
        assert check_against_marshmallow(SCHEMAS["envelope"], wire)
        assert check_against_marshmallow(SCHEMAS[f"{event['type']}.v1"], wire["data"])


def test_refusals_are_marshmallows_own() -> None:
    loader = SchemaLoader(CATALOG[("billing.account.balance_changed", 1)].instance)

    with pytest.raises(ValidationError) as refused:
        loader.load({"customer_id": "", "balance": "NaN", "currency": "XXX"})

    assert refused.value.messages == {
        "customer_id": ["Length must be between 1 and 64."],
        "balance": ["Special numeric values (nan or infinity) are not permitted."],
        "unapplied_credit": ["Missing data for required field."],
        "currency": ["'XXX' is not an ISO 4217 currency code."],
    }


def test_a_schema_with_hooks_is_left_to_marshmallow() -> None:
    class Checked(Schema):
        amount = fields.Decimal(as_string=True)

        @validates_schema
        def _positive(self, data: dict[str, Any], **_: Any) -> None:
            if data["amount"] <= 0:
                raise ValidationError("must be positive", "amount")

    loader = SchemaLoader(Checked())

    assert loader.reader is None
    with pytest.raises(ValidationError):
        loader.load({"amount": "-1"})
