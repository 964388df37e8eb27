"""Field types shared by event and API schemas: the wire forms of amounts and currencies."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from shared.money import is_currency


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
