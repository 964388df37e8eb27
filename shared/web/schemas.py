"""Base of every request schema: input rules that hold for every field of every service."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from shared.money import MAX_MINOR_UNITS

NUL_MESSAGE = "Must not contain NUL characters."
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
_DECIMAL = re.compile(DECIMAL_PATTERN, re.ASCII)
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2999, 12, 31)


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


class StrictDecimal(fields.Decimal):
    """A decimal given as a string or JSON number of plain digits (``-12.50``): no exponent,
    no ``_``, no other scripts' digits, no spaces (CONTRACT round 2, "Numbers")."""

    default_error_messages = {
        "invalid": "Not a decimal: use digits with an optional '-' and '.' (e.g. \"120.50\").",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("as_string", True)
        kwargs.setdefault("allow_nan", False)
        metadata = {"pattern": DECIMAL_PATTERN, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _validated(self, value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise self.make_error("invalid")
        text = value if isinstance(value, str) else str(value)
        if len(text) > 40 or not _DECIMAL.match(text):
            raise self.make_error("invalid")
        return super()._validated(text)


def AmountInput(*, positive: bool = False, **kwargs: Any) -> StrictDecimal:
    """A money amount in a request: 0 (or, if ``positive``, more) up to 10^15 minor units.
    The bound here is loose (the currency is not known yet); ``shared.money.to_minor``
    checks places and the exact bound in the currency of the document."""
    return StrictDecimal(
        validate=validate.Range(
            min=0, min_inclusive=not positive, max=MAX_MINOR_UNITS, max_inclusive=False
        ),
        **kwargs,
    )


def _in_business_range(value: dt.date) -> None:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValidationError(f"Must be from {FIRST_DAY} to {LAST_DAY}.")


def BusinessDate(**kwargs: Any) -> fields.Date:
    """A business date: 1900-01-01 to 2999-12-31, so date arithmetic never overflows."""
    return fields.Date(validate=_in_business_range, **kwargs)


def max_places(places: int) -> Callable[[Decimal], None]:
    """Validator: a decimal with at most ``places`` decimal places (CONTRACT "Numbers")."""

    def check(value: Decimal) -> None:
        if -value.as_tuple().exponent > places:  # type: ignore[operator]
            raise ValidationError(f"At most {places} decimal places.")

    return check


def Percent(**kwargs: Any) -> StrictDecimal:
    """A percentage 0..100 with at most 2 decimals."""
    return StrictDecimal(
        validate=[validate.Range(min=0, max=100), max_places(2)],
        **kwargs,
    )


def UnitPrice(**kwargs: Any) -> StrictDecimal:
    """A unit price: 0 or more, at most 4 decimals."""
    return StrictDecimal(
        validate=[validate.Range(min=0, max=10**12, max_inclusive=False), max_places(4)],
        **kwargs,
    )


def Quantity(**kwargs: Any) -> StrictDecimal:
    """A quantity: more than 0, at most 4 decimals."""
    return StrictDecimal(
        validate=[validate.Range(min=0, min_inclusive=False, max=10**9), max_places(4)],
        **kwargs,
    )
