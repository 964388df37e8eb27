"""Money as Decimal: ISO 4217 exponents, half-up rounding, minor units for storage."""

from __future__ import annotations

import functools
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pycountry

# ISO 4217 minor units that differ from the usual two decimals.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}
# Codes in the ISO list that are not money a customer pays in (precious metals, test codes).
_NOT_TENDER = {
    "XAG",
    "XAU",
    "XBA",
    "XBB",
    "XBC",
    "XBD",
    "XDR",
    "XPD",
    "XPT",
    "XSU",
    "XTS",
    "XUA",
    "XXX",
}


# Larger than any receivable, small enough for 64-bit minor units in every currency.
MAX_AMOUNT = Decimal(10) ** 12
# An amount of this many minor units or more is refused (CONTRACT round 2): sums of many
# such amounts still fit the 64-bit integers they are stored in.
MAX_MINOR_UNITS = 10**15


class MoneyError(ValueError):
    """An amount that cannot be expressed in its currency."""


def is_currency(code: str) -> bool:
    """True when ``code`` is an ISO 4217 currency a customer can be billed in."""
    return isinstance(code, str) and _is_tender(code)


@functools.lru_cache(maxsize=512)  # every amount of every event asks; pycountry is slow
def _is_tender(code: str) -> bool:
    return (
        len(code) == 3
        and code.isupper()
        and code not in _NOT_TENDER
        and pycountry.currencies.get(alpha_3=code) is not None
    )


def exponent(currency: str) -> int:
    """Number of decimal places of ``currency`` (2 for EUR, 0 for JPY, 3 for KWD)."""
    if not is_currency(currency):
        raise MoneyError(f"unknown currency {currency!r}")
    return _EXPONENTS.get(currency, 2)


def quantum(currency: str) -> Decimal:
    return _minor_unit(currency)[1]


@functools.lru_cache(maxsize=512)  # from_minor runs for every amount of every event
def _minor_unit(currency: str) -> tuple[int, Decimal]:
    """The currency's exponent and its minor unit as a Decimal (0.01 for EUR)."""
    places = exponent(currency)
    return places, Decimal(1).scaleb(-places)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit (2.345 EUR -> 2.35)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def check_places(amount: Decimal, currency: str) -> Decimal:
    """Return ``amount`` at the currency's exponent; raise if it has more places."""
    if not amount.is_finite():
        raise MoneyError("amount must be a finite number")
    places = -amount.as_tuple().exponent  # type: ignore[operator]
    if places > exponent(currency):
        raise MoneyError(f"{currency} amounts have at most {exponent(currency)} decimal places")
    limit = from_minor(MAX_MINOR_UNITS, currency)
    # adjusted() first: comparing a number like 1E+999999999 overflows the decimal context.
    if amount.adjusted() >= 20 or abs(amount) >= limit:
        raise MoneyError(f"{currency} amounts must be below {limit:,}")
    return amount.quantize(quantum(currency))


def storable(amount: Decimal, currency: str) -> bool:
    """True when ``amount`` lies below MAX_MINOR_UNITS minor units of ``currency``."""
    return amount.is_finite() and abs(amount) < from_minor(MAX_MINOR_UNITS, currency)


def to_minor(amount: Decimal, currency: str) -> int:
    """Decimal amount -> integer of minor units (cents); raises if it has too many places."""
    return int(check_places(amount, currency).scaleb(exponent(currency)))


def from_minor(minor: int, currency: str) -> Decimal:
    """Integer of minor units -> Decimal at the currency's exponent."""
    places, unit = _minor_unit(currency)
    return Decimal(minor).scaleb(-places).quantize(unit)


def format_amount(amount: Decimal, currency: str) -> str:
    """The JSON form: a string with exactly the currency's exponent ("120.50", "1200")."""
    return str(round_money(amount, currency))


def parse_amount(value: object, currency: str) -> Decimal:
    """Parse a string or number into an amount of ``currency``; raise MoneyError if invalid."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise MoneyError(f"not a number: {value!r}") from exc
    return check_places(amount, currency)


def to_fixed(value: Decimal, places: int) -> int:
    """A Decimal with at most ``places`` decimals as an integer of 10^-places units
    (unit prices with 4 places, percentages with 2); raises MoneyError otherwise."""
    if not value.is_finite() or value.adjusted() >= 20 or abs(value) >= MAX_AMOUNT:
        raise MoneyError("not a storable number")
    if -value.as_tuple().exponent > places:  # type: ignore[operator]
        raise MoneyError(f"at most {places} decimal places")
    return int(value.scaleb(places))


def from_fixed(value: int, places: int) -> Decimal:
    return Decimal(value).scaleb(-places)


def display_price(value: Decimal, currency: str) -> Decimal:
    """A unit price as shown: at least the currency's places, more only if it has them."""
    used = max(-value.normalize().as_tuple().exponent, 0)  # type: ignore[operator]
    return value.quantize(Decimal(1).scaleb(-max(exponent(currency), min(used, 4))))
