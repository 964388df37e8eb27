"""The compiled dumpers of the catalog write the wire form marshmallow's dump and a JSON round
trip write, and only what the schema then loads: every value they are not sure of, and every
refusal with its message, is left to marshmallow."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, post_dump

from shared.events import CATALOG
from shared.events.dumping import SchemaDumper, schema_writer
from shared.events.fields import Timestamp
from shared.events.loading import Unsure
from shared.messaging.envelope import to_json

SCHEMAS = {f"{t}.v{v}": spec.instance for (t, v), spec in CATALOG.items()}

MOMENTS = st.datetimes(
    min_value=dt.datetime(1900, 1, 1),
    timezones=st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=2))]),
)
# Odd values any field may be given: right ones for some fields, wrong for others.
ODD = st.sampled_from(
    [
        *(None, "", "x", "12.50", "1E+3", "NaN", " 7 ", 0, 1, -1, 1.5, True, False, [], {}, ()),
        *(b"x", decimal.Decimal("sNaN"), decimal.Decimal("-Infinity"), uuid.UUID(int=7)),
        *(dt.date(2026, 11, 2), dt.datetime(2026, 11, 2, 10, tzinfo=dt.UTC)),
    ]
)
AMOUNTS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.decimals(places=2, allow_nan=False, allow_infinity=False).map(str),
    st.integers(),
)
# The values services emit, which the compiled writers take by themselves.
VALUES: dict[type, st.SearchStrategy[Any]] = {
    fields.String: st.one_of(
        st.sampled_from(["EUR", "JPY", "Acme Ltd", "", "a" * 65]), st.text(max_size=8), st.uuids()
    ),
    fields.Integer: st.integers(),
    fields.Boolean: st.booleans(),
    fields.Decimal: AMOUNTS,
    fields.Date: st.dates(),
    Timestamp: MOMENTS,
}
# Near misses the compiled writers leave to marshmallow, whatever marshmallow makes of them.
NEAR: dict[type, st.SearchStrategy[Any]] = {
    fields.String: st.sampled_from([b"x", 7]),
    fields.Integer: st.booleans(),
    fields.Boolean: st.sampled_from([0, 1, "true"]),
    fields.Decimal: st.one_of(st.decimals(), st.floats(), st.sampled_from(["x", " 7 ", "1_0"])),
    fields.Date: MOMENTS,
    Timestamp: st.dates(),
}


def values_for(field: fields.Field, depth: int, clean: bool) -> st.SearchStrategy[Any]:
    """Python values for ``field``: unless ``clean``, some are near misses or odd."""
    near = None
    if isinstance(field, fields.Nested):
        right = objects(field.schema, depth + 1, clean)
    elif isinstance(field, fields.List):
        items = st.lists(values_for(field.inner, depth, clean), max_size=3)
        right = st.one_of(items, items.map(tuple))
    elif isinstance(field, fields.Dict):
        keys = st.sampled_from(["S", "R", "Z"])
        if not clean:
            keys = st.one_of(keys, st.integers(0, 2), st.just(None))
        right = st.dictionaries(keys, values_for(field.value_field, depth, clean), max_size=3)
    else:
        right = next(values for kind, values in VALUES.items() if type(field) is kind)
        near = next(values for kind, values in NEAR.items() if type(field) is kind)
    if clean:
        return right
    odd = st.one_of(near, ODD) if near is not None else ODD
    # Rare enough that an object often has one near miss among values the writers take.
    return st.integers(0, 15).flatmap(lambda roll: odd if roll == 0 else right)


def objects(schema: Schema, depth: int, clean: bool) -> st.SearchStrategy[Any]:
    """Dicts shaped like ``schema`` with a field it does not know; any field may be left
    out or null, unless ``clean`` and the field is required."""
    if depth > 2:
        return st.just({})
    chosen = {}
    for name, field in schema.dump_fields.items():
        given = values_for(field, depth, clean).map(lambda v: ("set", v))
        if not (clean and field.required):
            given = st.one_of(st.just(("omit", None)), st.just(("set", None)), given)
        chosen[name] = given
    return st.fixed_dictionaries(chosen).map(
        lambda picked: {k: v for k, (how, v) in picked.items() if how == "set"} | {"new": 1}
    )


def same(fast: Any, slow: Any) -> bool:
    """Equal JSON values of the same types, with dict keys in the same order."""
    if type(fast) is not type(slow):
        return False
    if isinstance(fast, dict):
        return list(fast) == list(slow) and all(same(fast[k], slow[k]) for k in fast)
    if isinstance(fast, list):
        return len(fast) == len(slow) and all(map(same, fast, slow))
    return bool(fast == slow)


def marshmallow_wire(schema: Schema, data: Any) -> Any:
    return json.loads(to_json(schema.dump(data)))


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_catalog_schema_compiles(name: str) -> None:
    assert SchemaDumper(SCHEMAS[name]).writer is not None


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=100, deadline=None)
@given(data=st.data(), clean=st.booleans())
def test_the_compiled_writer_writes_marshmallows_wire_form_and_only_what_it_loads(
    name: str, data: st.DataObject, clean: bool
) -> None:
    schema = SCHEMAS[name]
    writer = schema_writer(schema)
    assert writer is not None
    value = data.draw(
        objects(schema, 0, clean) if clean else st.one_of(objects(schema, 0, clean), ODD)
    )
    try:
        fast = writer(value)
    except Unsure:
        fast = Unsure
    try:
        slow = marshmallow_wire(schema, value)
    except Exception as exc:  # marshmallow's dump raises whatever the value's type raises
        assert fast is Unsure, f"compiled writer wrote what marshmallow fails on: {exc!r}"
        with pytest.raises(type(exc)):
            SchemaDumper(schema).dump(value)
        return
    try:
        schema.load(slow)
    except ValidationError as exc:
        assert fast is Unsure, f"compiled writer wrote what the schema refuses: {exc}"
        with pytest.raises(ValidationError) as refused:
            SchemaDumper(schema).dump(value)
        assert refused.value.messages == exc.messages
        return
    assert fast is not Unsure or not clean, "what the schema takes, the compiled path writes"
    if fast is not Unsure:
        assert same(fast, slow), (fast, slow)
    assert same(SchemaDumper(schema).dump(value), slow)


def test_the_wire_form_shares_nothing_with_the_data() -> None:
    spec = CATALOG[("billing.invoice.updated", 1)]
    line = {"quantity": "1", "unit_price": "2.00", "discount_percent": "0", "net_amount": "2.00"}
    lines = [line | {"tax_rate": "24", "tax_amount": "0.48"}]
    data = {"bill_to": {"name": "Acme"}, "lines": lines, "payments": []}
    data |= {"id": "i", "customer_id": "c", "status": "open", "currency": "EUR", "version": 1}
    data |= {"date": dt.date(2026, 11, 2), "overdue": False, "days_overdue": 0}
    data |= {name: decimal.Decimal("2.48") for name in ("subtotal", "tax_total", "total")}
    data |= {name: decimal.Decimal(0) for name in ("amount_paid", "amount_credited")}
    data |= {"amount_due": decimal.Decimal("2.48")}

    wire = spec.dumper.dump(data)

    assert wire["lines"] == lines and wire["lines"] is not lines
    assert wire["lines"][0] is not lines[0] and wire["bill_to"] is not data["bill_to"]


def test_a_schema_with_hooks_is_left_to_marshmallow() -> None:
    class Shouting(Schema):
        name = fields.String()

        @post_dump
        def _upper(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
            return {"name": data["name"].upper()}

    dumper = SchemaDumper(Shouting())

    assert dumper.writer is None
    assert dumper.dump({"name": "acme"}) == {"name": "ACME"}


def test_refusals_are_the_loaders_own() -> None:
    spec = CATALOG[("billing.account.balance_changed", 1)]
    data = {"customer_id": "", "balance": decimal.Decimal("NaN"), "currency": "XXX"}

    with pytest.raises(ValidationError) as refused:
        spec.dumper.dump(data)

    assert refused.value.messages == {
        "customer_id": ["Length must be between 1 and 64."],
        "balance": ["Special numeric values (nan or infinity) are not permitted."],
        "unapplied_credit": ["Missing data for required field."],
        "currency": ["'XXX' is not an ISO 4217 currency code."],
    }
