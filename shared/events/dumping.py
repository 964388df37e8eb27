"""Dumping event data to its wire form exactly as marshmallow would, at a fraction of the cost.

Every emitted event's data went through ``schema.dump`` and a JSON round trip (to_json, then
json.loads) to become the wire form the outbox stores and a consumer checks: a fifth of
billing's worker. A :class:`SchemaDumper` compiles a schema once into plain functions for
the Python values services emit: a string, an int, a bool, a Decimal (or its string) for an
amount, a date, a datetime, and dicts and lists of those. Whatever they are not sure of (a
value of another type, a field type or hook they do not know) is handed to the schema
itself, so the wire form stays marshmallow's (``tests/unit/test_dumping.py`` compares them
on every catalog schema). Dumping does not validate, as with marshmallow: the outbox still
checks the result with the compiled loader.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, missing
from marshmallow.decorators import POST_DUMP, PRE_DUMP

from shared.clock import isoformat
from shared.events.fields import Timestamp
from shared.events.loading import (
    ISO_FORMATS,
    Reader,
    SchemaLoader,
    Unsure,
    field_reader,
    schema_reader,
)
from shared.messaging.envelope import to_json

Writer = Callable[[Any], Any]


class SchemaDumper:
    """``dump(data)`` answers what ``json.loads(to_json(schema.dump(data)))`` answers, once
    ``schema`` has loaded that answer as a consumer will (the emitter's check)."""

    def __init__(self, schema: Schema, loader: SchemaLoader | None = None) -> None:
        self.schema = schema
        self.loader = loader or SchemaLoader(schema)
        self.writer = schema_writer(schema)  # None: a schema the compiler does not know

    def dump(self, data: Any) -> dict[str, Any]:
        """The wire form of ``data``: only JSON types, a new object sharing nothing with it.
        Raises the schema's ValidationError if it does not load that form."""
        if self.writer is not None:
            try:
                wire: dict[str, Any] = self.writer(data)
                return wire
            except Unsure:
                pass
        wire = json.loads(to_json(self.schema.dump(data)))
        self.loader.load(wire)
        return wire


def schema_writer(schema: Schema) -> Writer | None:
    """A function dumping a dict as ``schema`` does, answering only what the schema then loads
    (raising Unsure otherwise, or where it is not sure), or None if the schema has anything
    beyond plain fields."""
    if schema._hooks[PRE_DUMP] or schema._hooks[POST_DUMP] or schema.many:
        return None
    # What it vouches for is checked as the compiled loader checks it, field by field.
    if schema_reader(schema) is None or list(schema.load_fields) != list(schema.dump_fields):
        return None
    kind = type(schema)
    if kind.dump is not Schema.dump or kind._serialize is not Schema._serialize:
        return None
    if schema.dict_class is not dict or kind.get_attribute is not Schema.get_attribute:
        return None
    entries = []
    for name, field in schema.dump_fields.items():
        parts = field_parts(field)
        attribute = field.attribute or name
        key = field.data_key if field.data_key is not None else name
        default = field.dump_default
        plain = type(field).serialize is fields.Field.serialize and field._CHECK_ATTRIBUTE
        plain = plain and type(field).get_value is fields.Field.get_value
        # A dict's own attributes (``items``) or a dotted path are looked up otherwise.
        if parts is None or not plain or callable(default) or hasattr(dict, attribute):
            return None
        if "." in attribute:
            return None
        entries.append((attribute, key, *parts, default, field.required))
    return _object_writer(tuple(entries))


Entry = tuple[str, str, Writer, Reader | None, bool, Any, bool]


def _object_writer(entries: tuple[Entry, ...]) -> Writer:
    # Each field's steps are inlined here (no call per field): most values are plain strings.
    def write(data: Any) -> dict[str, Any]:
        if type(data) is not dict:
            raise Unsure
        wire: dict[str, Any] = {}
        for attribute, key, convert, check, allow_none, default, required in entries:
            value = data.get(attribute, missing)
            if value is missing:
                if default is missing:
                    if required:
                        raise Unsure
                    continue
                value = default
            if value is None:
                if not allow_none:
                    raise Unsure
                wire[key] = None
                continue
            written = value if convert is _string and type(value) is str else convert(value)
            if check is not None:
                check(written)  # the compiled loader's reader: raises Unsure if it refuses
            wire[key] = written
        return wire

    return write


def field_writer(field: fields.Field) -> Writer | None:
    """A function dumping one value as ``field._serialize`` does, then to JSON and back, and
    answering only what the field then loads (null where allowed, validators)."""
    parts = field_parts(field)
    if parts is None:
        return None
    convert, check, allow_none = parts

    def write(value: Any) -> Any:
        if value is None:
            if allow_none:
                return None
            raise Unsure
        written = convert(value)
        if check is not None:
            check(written)
        return written

    return write


def field_parts(field: fields.Field) -> tuple[Writer, Reader | None, bool] | None:
    """How a non-null value of ``field`` is written, the compiled loader's reader checking
    the result if the field needs it (validators, a kind not proven below), and whether null
    is allowed."""
    convert = _converter(field)
    if convert is None:
        return None
    check = None
    if field.validators or type(field) not in PROVEN:
        check = field_reader(field)
        if check is None:
            return None
    return convert, check, field.allow_none


def _converter(field: fields.Field) -> Writer | None:
    """The wire form of a non-null value for the field types the catalog uses (exactly
    those types: a subclass may dump differently)."""
    kind = type(field)
    simple = SIMPLE.get(kind)
    if simple is not None:
        return simple
    if isinstance(field, fields.Integer) and kind is fields.Integer:
        return None if field.as_string else _integer
    if isinstance(field, fields.Boolean) and kind is fields.Boolean:
        plain = field.truthy is fields.Boolean.truthy and field.falsy is fields.Boolean.falsy
        return _boolean if plain else None
    if isinstance(field, fields.Decimal) and kind is fields.Decimal:
        plain = field.as_string and field.places is None and not field.allow_nan
        return _decimal if plain else None
    if isinstance(field, fields.Date) and kind is fields.Date:
        return _date if field.format in ISO_FORMATS else None
    if isinstance(field, fields.DateTime) and kind in PLAIN_DATETIMES:
        return _datetime if field.format in ISO_FORMATS else None
    if isinstance(field, fields.Nested) and kind is fields.Nested:
        return _nested(field)
    if isinstance(field, fields.List) and kind is fields.List:
        return _list(field)
    if isinstance(field, fields.Dict) and kind is fields.Dict:
        return _dict(field)
    return None


def _string(value: Any) -> str:
    if type(value) is str:
        return value
    if type(value) is uuid.UUID:
        return str(value)
    raise Unsure


def _uuid(value: Any) -> str:
    if type(value) is uuid.UUID or type(value) is str:
        return str(value)
    raise Unsure


def _integer(value: Any) -> int:
    if type(value) is not int:
        raise Unsure
    return value


def _boolean(value: Any) -> bool:
    if value is not True and value is not False:
        raise Unsure
    return value


AMOUNT_TYPES = (decimal.Decimal, str, int)


def _decimal(value: Any) -> str:
    if type(value) is decimal.Decimal and value.is_finite():
        return format(value, "f")  # marshmallow's Decimal(str(value)) is the same number
    if type(value) not in AMOUNT_TYPES:
        raise Unsure
    try:
        number = decimal.Decimal(str(value))  # as marshmallow: a Decimal's str is exact
    except decimal.InvalidOperation:
        raise Unsure from None
    if not number.is_finite():
        raise Unsure
    return format(number, "f")


def _date(value: Any) -> str:
    if type(value) is not dt.date:
        raise Unsure
    return value.isoformat()


def _timestamp(value: Any) -> str:
    if type(value) is not dt.datetime:
        raise Unsure
    return isoformat(value)


def _datetime(value: Any) -> str:
    if type(value) is not dt.datetime:
        raise Unsure
    return value.isoformat()


SIMPLE: dict[type[fields.Field], Writer] = {
    fields.String: _string,
    fields.UUID: _uuid,
    Timestamp: _timestamp,  # its own _serialize: shared.clock's isoformat
}
PLAIN_DATETIMES = (fields.DateTime, fields.AwareDateTime, fields.NaiveDateTime)
# Field kinds whose converters above write a form the compiled loader always takes: a
# string, an int, a bool, a finite amount as "f" formats it, a date, a UTC instant ending in
# Z, and containers of those (each checked by its own field writer).
PROVEN = frozenset(
    {fields.String, fields.Integer, fields.Boolean, fields.Decimal, fields.Date, Timestamp}
    | {fields.Nested, fields.List, fields.Dict}
)


def _nested(field: fields.Nested) -> Writer | None:
    if field.many or field.schema.many:
        return None
    return schema_writer(field.schema)


def _list(field: fields.List) -> Writer | None:
    inner = field_writer(field.inner)
    if inner is None:
        return None

    def write(value: Any) -> list[Any]:
        if type(value) is not list and type(value) is not tuple:
            raise Unsure
        return [inner(item) for item in value]

    return write


def _dict(field: fields.Dict) -> Writer | None:
    if field.key_field is None or field.value_field is None:
        return None
    keys, values = field_writer(field.key_field), field_writer(field.value_field)
    if keys is None or values is None:
        return None

    def write(value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise Unsure
        wire = {}
        for key, item in value.items():
            name = keys(key)
            if type(name) is not str:  # JSON would turn it into a string
                raise Unsure
            wire[name] = values(item)
        return wire

    return write
