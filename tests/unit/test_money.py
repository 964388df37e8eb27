"""Money rules: ISO 4217 exponents, half-up rounding, minor units, places checks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import (
    MAX_AMOUNT,
    MAX_MINOR_UNITS,
    MoneyError,
    check_places,
    exponent,
    format_amount,
    from_minor,
    is_currency,
    parse_amount,
    round_money,
    to_minor,
)

CURRENCIES = ["EUR", "USD", "GBP", "JPY", "KRW", "KWD", "BHD", "CLF"]


@pytest.mark.parametrize(
    ("currency", "places"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("GBP", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("ISK", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("TND", 3),
        ("CLF", 4),
    ],
)
def test_exponent_is_the_iso_4217_minor_unit(currency: str, places: int) -> None:
    assert exponent(currency) == places


def test_exponent_of_an_unknown_currency_is_a_money_error() -> None:
    with pytest.raises(MoneyError, match="ZZZ"):
        exponent("ZZZ")


@pytest.mark.parametrize("code", ["EUR", "USD", "JPY", "KWD", "CHF"])
def test_is_currency_accepts_tender_codes(code: str) -> None:
    assert is_currency(code)


@pytest.mark.parametrize(
    "code",
    ["EURO", "eur", "Eur", "EU", "", "ZZZ", "XAU", "XAG", "XTS", "XXX", " EUR"],
)
def test_is_currency_rejects_non_codes_lowercase_metals_and_test_codes(code: str) -> None:
    assert not is_currency(code)


def test_is_currency_rejects_non_strings() -> None:
    assert not is_currency(978)  # type: ignore[arg-type]
    assert not is_currency(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("2.345", "EUR", "2.35"),
        ("0.005", "EUR", "0.01"),
        ("2.344", "EUR", "2.34"),
        ("2.3449999", "EUR", "2.34"),
        ("-2.345", "EUR", "-2.35"),
        ("1200.5", "JPY", "1201"),
        ("1200.49", "JPY", "1200"),
        ("1.2345", "KWD", "1.235"),
        ("7", "EUR", "7.00"),
    ],
)
def test_round_money_rounds_half_up_to_the_minor_unit(
    amount: str, currency: str, expected: str
) -> None:
    rounded = round_money(Decimal(amount), currency)
    assert str(rounded) == expected


@given(
    amount=st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, places=6),
    currency=st.sampled_from(CURRENCIES),
)
def test_round_money_is_stable_and_within_half_a_minor_unit(amount: Decimal, currency: str) -> None:
    rounded = round_money(amount, currency)
    half_unit = Decimal(1).scaleb(-exponent(currency)) / 2
    assert abs(rounded - amount) <= half_unit
    assert round_money(rounded, currency) == rounded
    assert -rounded.as_tuple().exponent == exponent(currency)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [("120.5", "EUR", "120.50"), ("1200", "JPY", "1200"), ("3.1", "KWD", "3.100")],
)
def test_format_amount_shows_exactly_the_currency_exponent(
    amount: str, currency: str, expected: str
) -> None:
    assert format_amount(Decimal(amount), currency) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("120.50", "EUR", 12050), ("1200", "JPY", 1200), ("1.234", "KWD", 1234), ("-0.01", "EUR", -1)],
)
def test_to_minor_counts_minor_units(amount: str, currency: str, minor: int) -> None:
    assert to_minor(Decimal(amount), currency) == minor


@given(data=st.data(), currency=st.sampled_from(CURRENCIES))
def test_minor_units_survive_a_round_trip_through_decimal(
    data: st.DataObject, currency: str
) -> None:
    bound = MAX_MINOR_UNITS - 1
    minor = data.draw(st.integers(min_value=-bound, max_value=bound))
    amount = from_minor(minor, currency)
    assert -amount.as_tuple().exponent == exponent(currency)  # type: ignore[operator]
    assert to_minor(amount, currency) == minor


@given(
    amount=st.decimals(
        min_value=-MAX_AMOUNT + Decimal("0.01"), max_value=MAX_AMOUNT - Decimal("0.01"), places=2
    ),
)
def test_eur_amounts_survive_a_round_trip_through_minor_units(amount: Decimal) -> None:
    assert from_minor(to_minor(amount, "EUR"), "EUR") == amount


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("10000000000000", "EUR"),
        ("-10000000000000.00", "EUR"),
        ("1000000000000000", "JPY"),
        ("1e30", "EUR"),
        ("1E+999999999", "EUR"),
    ],
)
def test_amounts_from_10_to_the_15_minor_units_up_are_refused(amount: str, currency: str) -> None:
    with pytest.raises(MoneyError):
        check_places(Decimal(amount), currency)


def test_amounts_just_below_10_to_the_15_minor_units_are_kept() -> None:
    assert to_minor(Decimal("9999999999999.99"), "EUR") == 10**15 - 1


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("1.005", "EUR"), ("0.001", "USD"), ("1.5", "JPY"), ("1200.00", "JPY"), ("1.0001", "KWD")],
)
def test_check_places_rejects_more_places_than_the_currency_has(amount: str, currency: str) -> None:
    with pytest.raises(MoneyError, match=currency):
        check_places(Decimal(amount), currency)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1.5", "EUR", "1.50"),
        ("12", "EUR", "12.00"),
        ("1E+3", "JPY", "1000"),
        ("0.1", "KWD", "0.100"),
    ],
)
def test_check_places_returns_the_amount_at_the_currency_exponent(
    amount: str, currency: str, expected: str
) -> None:
    assert str(check_places(Decimal(amount), currency)) == expected


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_check_places_rejects_non_finite_amounts(amount: str) -> None:
    with pytest.raises(MoneyError, match="finite"):
        check_places(Decimal(amount), "EUR")


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("120.5", "EUR", Decimal("120.50")),
        (12.5, "EUR", Decimal("12.50")),
        (1200, "JPY", Decimal("1200")),
    ],
)
def test_parse_amount_accepts_strings_and_numbers(
    value: object, currency: str, expected: Decimal
) -> None:
    assert parse_amount(value, currency) == expected


@pytest.mark.parametrize("value", ["abc", "", "1,50", None, "12.345"])
def test_parse_amount_rejects_what_is_not_an_amount_of_the_currency(value: object) -> None:
    with pytest.raises(MoneyError):
        parse_amount(value, "EUR")


@pytest.mark.parametrize("value", ["1e30", "100000000000000000000000000"])
def test_parse_amount_reports_an_absurdly_large_amount_as_a_money_error(value: str) -> None:
    # The API turns MoneyError into a 422; anything else escapes as a 500.
    with pytest.raises(MoneyError):
        parse_amount(value, "EUR")


def test_check_places_reports_an_absurdly_large_amount_as_a_money_error() -> None:
    with pytest.raises(MoneyError):
        check_places(Decimal("1E+30"), "EUR")
