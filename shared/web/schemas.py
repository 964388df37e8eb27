"""Base of every request schema: input rules that hold for every field of every service."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

NUL_MESSAGE = "Must not contain NUL characters."


def _nul_errors(value: Any) -> Any:
    """Nested error messages for every string holding a NUL character (none: None)."""
    if isinstance(value, str):
        return [NUL_MESSAGE] if "\x00" in value else None
    if isinstance(value, Mapping):
        errors = {key: found for key, item in value.items() if (found := _nul_errors(item))}
        return errors or None
    if isinstance(value, list):
        errors = {index: found for index, item in enumerate(value) if (found := _nul_errors(item))}
        return errors or None
    return None


class RequestSchema(Schema):
    """Rejects NUL characters anywhere (PostgreSQL text cannot hold them) with a 422."""

    @pre_load
    def _reject_nul(self, data: Any, **_: Any) -> Any:
        errors = _nul_errors(data)
        if errors:
            raise ValidationError(errors)
        return data


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def Name(**kwargs: Any) -> fields.String:
    """A display name: 1 to 200 characters, not only spaces."""
    return fields.String(validate=[validate.Length(min=1, max=200), not_blank], **kwargs)


def max_places(places: int) -> Callable[[Decimal], None]:
    """Validator: a decimal with at most ``places`` decimal places (CONTRACT "Numbers")."""

    def check(value: Decimal) -> None:
        if -value.as_tuple().exponent > places:  # type: ignore[operator]
            raise ValidationError(f"At most {places} decimal places.")

    return check


def Percent(**kwargs: Any) -> fields.Decimal:
    """A percentage 0..100 with at most 2 decimals."""
    return fields.Decimal(
        allow_nan=False,
        as_string=True,
        validate=[validate.Range(min=0, max=100), max_places(2)],
        **kwargs,
    )


def UnitPrice(**kwargs: Any) -> fields.Decimal:
    """A unit price: 0 or more, at most 4 decimals."""
    return fields.Decimal(
        allow_nan=False,
        as_string=True,
        validate=[validate.Range(min=0, max=10**12, max_inclusive=False), max_places(4)],
        **kwargs,
    )


def Quantity(**kwargs: Any) -> fields.Decimal:
    """A quantity: more than 0, at most 4 decimals."""
    return fields.Decimal(
        allow_nan=False,
        as_string=True,
        validate=[validate.Range(min=0, min_inclusive=False, max=10**9), max_places(4)],
        **kwargs,
    )
