"""The event catalog and the AsyncAPI document generated from it (CONTRACT "Events")."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import EXCLUDE, Schema, fields

from shared.asyncapi import asyncapi_document
from shared.events import CATALOG, spec_for
from shared.events.catalog import UnknownEvent, load_data

# Every type in CONTRACT.md's Events table; all are at version 1.
CONTRACT_EVENT_TYPES = [
    "customers.customer.created",
    "customers.customer.updated",
    "customers.customer.archived",
    "customers.interaction.logged",
    "contracts.item.created",
    "contracts.item.updated",
    "contracts.contract.activated",
    "contracts.contract.terminated",
    "contracts.tax_rates.updated",
    "billing.invoice.issued",
    "billing.invoice.updated",
    "billing.invoice.partially_paid",
    "billing.invoice.paid",
    "billing.invoice.overdue",
    "billing.invoice.voided",
    "billing.credit_note.issued",
    "billing.payment.applied",
    "billing.payment.unapplied",
    "billing.account.balance_changed",
    "payments.payment.received",
    "payments.payment.reversed",
    "payments.refund.issued",
    "notifier.notification.sent",
    "notifier.notification.failed",
]

# The fields the Events table names explicitly for a type ("data carries at least").
CONTRACT_DATA_FIELDS = {
    "customers.customer.archived": ["customer_id"],
    "billing.invoice.partially_paid": [
        "invoice_id",
        "customer_id",
        "amount_paid",
        "amount_due",
        "currency",
        "date",
    ],
    "billing.invoice.paid": [
        "invoice_id",
        "customer_id",
        "amount_paid",
        "amount_due",
        "currency",
        "date",
    ],
    "billing.invoice.overdue": [
        "invoice_id",
        "customer_id",
        "due_date",
        "amount_due",
        "currency",
        "as_of",
    ],
    "billing.invoice.voided": ["invoice_id", "customer_id", "reason"],
    "billing.payment.applied": [
        "payment_id",
        "customer_id",
        "allocations",
        "unapplied_amount",
        "currency",
        "date",
    ],
    "billing.payment.unapplied": ["payment_id", "customer_id", "allocations", "currency", "date"],
    "billing.account.balance_changed": ["customer_id", "balance", "unapplied_credit", "currency"],
    "payments.payment.reversed": ["payment_id", "customer_id", "reason"],
}


def _sample(field: fields.Field) -> Any:
    """A valid wire value for one field, nested schemas filled with their required fields."""
    if isinstance(field, fields.Nested):
        return minimal_data(field.schema)
    if isinstance(field, fields.List):
        return [_sample(field.inner)]
    if isinstance(field, fields.Dict):
        return {"standard": "24.00"}
    if isinstance(field, fields.Decimal):
        return "10.00"
    if isinstance(field, fields.Date):  # before DateTime: Date is a subclass of it
        return "2024-03-01"
    if isinstance(field, fields.DateTime):
        return "2024-03-01T10:00:00Z"
    if isinstance(field, fields.Boolean):
        return True
    if isinstance(field, fields.Integer):
        return 1
    if field.name == "currency":
        return "EUR"
    return "x-1"


def minimal_data(schema: Schema) -> dict[str, Any]:
    return {name: _sample(field) for name, field in schema.fields.items() if field.required}


def with_unknown_fields(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    """The same data with an unexpected field added to every object, at every depth."""
    grown: dict[str, Any] = {"added_later": "ignore me"}
    for name, value in data.items():
        field = schema.fields[name]
        if isinstance(field, fields.Nested):
            grown[name] = with_unknown_fields(field.schema, value)
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            grown[name] = [with_unknown_fields(field.inner.schema, item) for item in value]
        else:
            grown[name] = value
    return grown


def mentions_key(data: Any, key: str) -> bool:
    if isinstance(data, dict):
        return key in data or any(mentions_key(v, key) for v in data.values())
    if isinstance(data, list):
        return any(mentions_key(item, key) for item in data)
    return False


@pytest.mark.parametrize("event_type", CONTRACT_EVENT_TYPES)
def test_every_contract_event_type_is_registered_at_version_1(event_type: str) -> None:
    spec = spec_for(event_type, 1)

    assert spec.type == event_type
    assert spec.version == 1
    assert spec.service == event_type.split(".")[0]
    assert spec.summary


def test_an_unregistered_type_or_version_is_an_unknown_event() -> None:
    with pytest.raises(UnknownEvent, match=r"customers\.customer\.created version 2"):
        spec_for("customers.customer.created", 2)
    with pytest.raises(UnknownEvent):
        spec_for("customers.customer.deleted", 1)


@pytest.mark.parametrize("event_type", sorted(CONTRACT_DATA_FIELDS))
def test_data_requires_the_fields_the_contract_names(event_type: str) -> None:
    schema_fields = spec_for(event_type, 1).schema().fields

    for name in CONTRACT_DATA_FIELDS[event_type]:
        assert name in schema_fields, name
        assert schema_fields[name].required, name


def test_payment_allocations_carry_invoice_and_amount() -> None:
    allocations = spec_for("billing.payment.applied", 1).schema().fields["allocations"]

    assert isinstance(allocations, fields.List)
    assert isinstance(allocations.inner, fields.Nested)
    allocation_fields = allocations.inner.schema.fields
    assert allocation_fields["invoice_id"].required
    assert allocation_fields["amount"].required


@pytest.mark.parametrize("key", sorted(CATALOG), ids=lambda key: f"{key[0]}.v{key[1]}")
def test_data_schemas_ignore_fields_they_do_not_know(key: tuple[str, int]) -> None:
    event_type, version = key
    schema = spec_for(event_type, version).schema()
    data = minimal_data(schema)

    loaded = load_data(event_type, version, with_unknown_fields(schema, data))

    assert not mentions_key(loaded, "added_later")
    assert set(loaded) == set(data)


def test_every_data_schema_including_nested_ones_excludes_unknown_fields() -> None:
    pending = [spec.schema() for spec in CATALOG.values()]
    seen = 0
    while pending:
        schema = pending.pop()
        seen += 1
        assert schema.unknown == EXCLUDE, type(schema).__name__
        for field in schema.fields.values():
            inner = field.inner if isinstance(field, fields.List) else field
            if isinstance(inner, fields.Nested):
                pending.append(inner.schema)
    assert seen > len(CATALOG)


def test_amounts_in_event_data_load_as_exact_decimals() -> None:
    data = minimal_data(spec_for("billing.account.balance_changed", 1).schema())
    data.update(balance="120.50", unapplied_credit="0.10")

    loaded = load_data("billing.account.balance_changed", 1, data)

    assert str(loaded["balance"]) == "120.50"
    assert str(loaded["unapplied_credit"]) == "0.10"


# -- AsyncAPI ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        refs = [node["$ref"]] if "$ref" in node else []
        return refs + [ref for value in node.values() for ref in all_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in all_refs(value)]
    return []


def test_asyncapi_has_one_channel_per_event_type(document: dict[str, Any]) -> None:
    assert document["asyncapi"].startswith("2.")
    assert set(document["channels"]) == {event_type for event_type, _ in CATALOG}
    assert set(CONTRACT_EVENT_TYPES) <= set(document["channels"])


def test_asyncapi_channels_route_on_the_given_exchange() -> None:
    document = asyncapi_document(exchange="acme.events")
    binding = document["channels"]["billing.invoice.paid"]["bindings"]["amqp"]

    assert binding["exchange"]["name"] == "acme.events"
    assert binding["exchange"]["type"] == "topic"


@pytest.mark.parametrize("event_type", CONTRACT_EVENT_TYPES)
def test_asyncapi_message_payload_points_at_the_data_schema(
    document: dict[str, Any], event_type: str
) -> None:
    messages = document["channels"][event_type]["subscribe"]["message"]["oneOf"]
    versions = sorted(version for (kind, version) in CATALOG if kind == event_type)
    assert len(messages) == len(versions)
    for message_ref, version in zip(messages, versions, strict=True):
        payload = resolve(document, message_ref["$ref"])["payload"]
        assert payload["properties"]["type"]["const"] == event_type
        assert payload["properties"]["version"]["const"] == version
        assert {"id", "type", "subject", "sequence", "data"} <= set(payload["required"])
        data_schema = resolve(document, payload["properties"]["data"]["$ref"])
        schema = spec_for(event_type, version).schema()
        assert set(data_schema["properties"]) == set(schema.fields)
        required = {name for name, field in schema.fields.items() if field.required}
        assert set(data_schema.get("required", [])) == required


def test_the_second_version_of_invoice_updated_is_the_first_without_its_payments() -> None:
    first = spec_for("billing.invoice.updated", 1).schema().fields
    second = spec_for("billing.invoice.updated", 2).schema().fields
    assert set(first) - set(second) == {"payments"}
    assert set(second) <= set(first)


def test_every_ref_in_the_asyncapi_document_resolves(document: dict[str, Any]) -> None:
    refs = all_refs(document)

    assert len(refs) > len(CATALOG)
    for ref in refs:
        resolve(document, ref)
