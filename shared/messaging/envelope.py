"""The envelope every event travels in (DESIGN "Messaging rules")."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.UUID(required=True)
    type = fields.String(
        required=True,
        validate=[validate.Length(max=120), validate.Regexp(r"^[a-z_]+\.[a-z_]+\.[a-z_]+$")],
    )
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True)
    source = fields.String(required=True, validate=validate.Length(min=1, max=40))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=64))
    sequence = fields.Integer(required=True, validate=validate.Range(min=1))
    correlation_id = fields.String(allow_none=True, load_default=None)
    causation_id = fields.String(allow_none=True, load_default=None)
    data = fields.Dict(required=True)


@dataclass(frozen=True)
class Event:
    """An event as a handler sees it: envelope fields and the data loaded by its schema."""

    id: str
    type: str
    version: int
    occurred_at: dt.datetime
    source: str
    subject: str
    sequence: int
    correlation_id: str | None
    causation_id: str | None
    data: dict[str, Any]
    raw_data: dict[str, Any]


def json_default(value: object) -> object:
    """JSON form of the few non-JSON types that appear in event data."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class RawJson:
    """JSON text already in its wire form, written into an event's payload as it is: for a
    part the database wrote as the dumper would (version 1's list of an invoice's payments),
    which parsing and writing again cost more than the rest of the event together."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def value(self) -> Any:
        """The part as Python values (for a reader of the envelope, not the payload)."""
        return json.loads(self.text)


# Stands for a RawJson while the rest is written: random per process, so no data can hold it.
_RAW_MARK = f"tameio-raw-json-{uuid.uuid4().hex}-"


def to_json(value: Any) -> str:
    """The JSON text of ``value``: compact, UTF-8 as is, the types of json_default written
    as the wire form writes them, and each RawJson's text put in unchanged."""
    raws: list[str] = []

    def default(part: object) -> object:
        if isinstance(part, RawJson):
            raws.append(part.text)
            return f"{_RAW_MARK}{len(raws) - 1}"
        return json_default(part)

    text = json.dumps(value, default=default, ensure_ascii=False, separators=(",", ":"))
    for n, raw in enumerate(raws):
        text = text.replace(f'"{_RAW_MARK}{n}"', raw, 1)
    return text
