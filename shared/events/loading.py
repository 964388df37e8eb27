"""Loading event data exactly as its marshmallow schema would, at a fraction of the cost.

Every consumed message is checked against the catalog, and marshmallow's general machinery
(a call per field through several layers, error stores, hooks) was a tenth of a consumer's
CPU. A :class:`SchemaLoader` compiles a schema once into plain functions for the forms JSON
carries: a string where a string is declared, a JSON ``true`` for a boolean, an ISO date,
a decimal string for an amount. Whatever they are not sure of (a missing required field, a
number given as a string, a value a validator refuses, a field type or hook they do not
know) is handed to the schema itself, which then accepts it or raises its own
ValidationError. So what a message loads to, and why one is refused, stay marshmallow's;
the compiled path only ever accepts what the schema accepts, with the same result
(``tests/unit/test_loading.py`` compares them).
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA

Reader = Callable[[Any], Any]
ISO_FORMATS = (None, "iso", "iso8601")


class Unsure(Exception):
    """A compiled reader met a form it does not vouch for: the schema decides."""


class SchemaLoader:
    """``load(data)`` answers what ``schema.load(data)`` answers, raising the same errors."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.reader = schema_reader(schema)  # None: a schema the compiler does not know

    def load(self, data: Any) -> dict[str, Any]:
        """The loaded data; raises the schema's ValidationError if it refuses ``data``."""
        if self.reader is not None:
            try:
                loaded: dict[str, Any] = self.reader(data)
                return loaded
            except Unsure:
                pass
        result: dict[str, Any] = self.schema.load(data)
        return result


def schema_reader(schema: Schema) -> Reader | None:
    """A function loading a JSON object as ``schema`` does (raising Unsure where it is not
    sure), or None if the schema has anything beyond plain fields."""
    hooks = any(schema._hooks[tag] for tag in (PRE_LOAD, POST_LOAD, VALIDATES, VALIDATES_SCHEMA))
    if hooks or schema.many or schema.partial or schema.unknown != EXCLUDE:
        return None
    if schema.dict_class is not dict:
        return None
    entries = []
    for name, field in schema.load_fields.items():
        reader = field_reader(field)
        default = field.load_default
        key, target = field.data_key or name, field.attribute or name
        if reader is None or callable(default) or "." in target:
            return None
        entries.append((key, target, reader, field.required, default))
    return _object_reader(tuple(entries))


def _object_reader(entries: tuple[tuple[str, str, Reader, bool, Any], ...]) -> Reader:
    def read(data: Any) -> dict[str, Any]:
        if type(data) is not dict:
            raise Unsure
        loaded = {}
        for key, target, reader, required, default in entries:
            value = data.get(key, missing)
            if value is missing:
                if required:
                    raise Unsure
                if default is not missing:
                    loaded[target] = default
                continue
            loaded[target] = reader(value)
        return loaded

    return read


def field_reader(field: fields.Field) -> Reader | None:
    """A function loading one value as ``field`` does (null, conversion, validators)."""
    convert = _converter(field)
    if convert is None or field.pre_load or field.post_load:
        return None
    validators = tuple(field.validators)
    allow_none = field.allow_none

    def read(value: Any) -> Any:
        if value is None:
            if allow_none:
                return None
            raise Unsure
        loaded = convert(value)
        for validator in validators:
            try:
                if validator(loaded) is False:
                    raise Unsure
            except ValidationError:
                raise Unsure from None
        return loaded

    def read_plain(value: Any) -> Any:
        if value is None:
            if allow_none:
                return None
            raise Unsure
        return convert(value)

    if validators:
        return read
    # Every converter refuses None (Unsure) itself: a call less per field, same answer.
    return read_plain if allow_none else convert


def _converter(field: fields.Field) -> Reader | None:
    """The conversion of a non-null value for the field types the catalog uses (exactly
    those types: a subclass may load differently)."""
    kind = type(field)
    simple = SIMPLE.get(kind)
    if simple is not None:
        return simple
    if isinstance(field, fields.Boolean) and kind is fields.Boolean:
        plain = field.truthy is fields.Boolean.truthy and field.falsy is fields.Boolean.falsy
        return _boolean if plain else None
    if isinstance(field, fields.Decimal) and kind is fields.Decimal:
        return _decimal if field.places is None else None
    if isinstance(field, fields.Date) and kind is fields.Date:
        return _date if field.format in ISO_FORMATS else None
    if isinstance(field, fields.AwareDateTime):
        return _aware_datetime(field)
    if isinstance(field, fields.Nested) and kind is fields.Nested:
        return _nested(field)
    if isinstance(field, fields.List) and kind is fields.List:
        return _list(field)
    if isinstance(field, fields.Dict) and kind is fields.Dict:
        return _dict(field)
    return None


def _string(value: Any) -> str:
    if type(value) is not str:
        raise Unsure
    return value


def _integer(value: Any) -> int:
    if type(value) is not int:
        raise Unsure
    return value


def _boolean(value: Any) -> bool:
    if value is not True and value is not False:
        raise Unsure
    return bool(value)


def _decimal(value: Any) -> decimal.Decimal:
    if type(value) is not str:
        raise Unsure
    try:
        number = decimal.Decimal(value)
    except decimal.InvalidOperation:
        raise Unsure from None
    if not number.is_finite():
        raise Unsure
    return number


def _uuid(value: Any) -> uuid.UUID:
    if type(value) is not str:
        raise Unsure
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Unsure from None


def _date(value: Any) -> dt.date:
    if type(value) is not str:
        raise Unsure
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Unsure from None


def _aware_datetime(field: fields.AwareDateTime) -> Reader | None:
    overridden = type(field)._deserialize is not fields.AwareDateTime._deserialize
    if overridden or field.format not in ISO_FORMATS:
        return None
    zone = field.default_timezone

    def read(value: Any) -> dt.datetime:
        if type(value) is not str:
            raise Unsure
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise Unsure from None
        if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
            if zone is None:
                raise Unsure
            moment = moment.replace(tzinfo=zone)
        return moment

    return read


SIMPLE: dict[type[fields.Field], Reader] = {
    fields.String: _string,
    fields.Integer: _integer,
    fields.UUID: _uuid,
}


def _nested(field: fields.Nested) -> Reader | None:
    if field.many or field.unknown not in (None, EXCLUDE):
        return None
    return schema_reader(field.schema)


def _list(field: fields.List) -> Reader | None:
    inner = field_reader(field.inner)
    if inner is None:
        return None

    def read(value: Any) -> list[Any]:
        if type(value) is not list:
            raise Unsure
        return [inner(item) for item in value]

    return read


def _dict(field: fields.Dict) -> Reader | None:
    if field.key_field is None and field.value_field is None:
        return _plain_dict
    if field.key_field is None or field.value_field is None:
        return None
    keys, values = field_reader(field.key_field), field_reader(field.value_field)
    if keys is None or values is None:
        return None

    def read(value: Any) -> dict[Any, Any]:
        if type(value) is not dict:
            raise Unsure
        return {keys(key): values(item) for key, item in value.items()}

    return read


def _plain_dict(value: Any) -> dict[Any, Any]:
    if type(value) is not dict:
        raise Unsure
    return dict(value)
