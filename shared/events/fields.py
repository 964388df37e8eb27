"""Field types shared by event and API schemas: the wire forms of amounts and currencies."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError, fields, validate

from shared.clock import isoformat
from shared.money import is_currency


class Timestamp(fields.AwareDateTime):
    """A UTC instant on the wire: ISO-8601 ending in Z; naive input is read as UTC."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=dt.UTC, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else isoformat(value)


def check_currency(code: str) -> None:
    if not is_currency(code):
        raise ValidationError(f"{code!r} is not an ISO 4217 currency code.")


def Amount(**kwargs: Any) -> fields.Decimal:
    """A money amount: a JSON string at the currency's exponent, loaded as Decimal."""
    return fields.Decimal(as_string=True, allow_nan=False, **kwargs)


def Currency(**kwargs: Any) -> fields.String:
    """An ISO 4217 currency code a customer can be billed in."""
    return fields.String(validate=check_currency, **kwargs)


def Id(**kwargs: Any) -> fields.String:
    """An entity id as it appears on the wire (a UUID string)."""
    return fields.String(validate=validate.Length(min=1, max=64), **kwargs)
