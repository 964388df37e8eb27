"""Contract rules without a database: which transitions a status allows, which termination
dates a contract's period admits, when an archived customer's contracts end, and how items,
prices, tax treatments and rates are stored and shown."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.contracts.domain import (
    LifecycleError,
    check_termination,
    check_transition,
    item_changes,
    shown_rates,
    stored_prices,
    stored_treatment,
    termination_on_archive,
)
from shared.pricing import Contract

START = dt.date(2026, 1, 1)


@pytest.mark.parametrize(
    ("action", "status", "allowed"),
    [
        ("activate", "draft", True),
        ("activate", "active", False),
        ("activate", "terminated", False),
        ("terminate", "active", True),
        ("terminate", "draft", False),
        ("terminate", "terminated", False),
    ],
)
def test_a_contract_moves_draft_to_active_to_terminated_only(action, status, allowed):
    if allowed:
        check_transition(action, status)
    else:
        with pytest.raises(LifecycleError, match=f"a {status} contract cannot be {action}d"):
            check_transition(action, status)


def test_termination_lies_within_the_contract_period():
    bounded = Contract(id="c", valid_from=START, valid_to=dt.date(2026, 12, 31))
    check_termination(bounded, START)
    check_termination(bounded, dt.date(2026, 12, 31))
    with pytest.raises(ValueError, match="on or after valid_from"):
        check_termination(bounded, START - dt.timedelta(days=1))
    with pytest.raises(ValueError, match="on or before valid_to"):
        check_termination(bounded, dt.date(2027, 1, 1))
    check_termination(Contract(id="o", valid_from=START), dt.date(2099, 1, 1))  # open-ended


def test_an_archived_customers_contract_ends_on_the_archive_day_within_its_period():
    end = dt.date(2026, 12, 31)
    assert termination_on_archive(START, end, dt.date(2026, 6, 15)) == dt.date(2026, 6, 15)
    assert termination_on_archive(START, None, dt.date(2030, 6, 15)) == dt.date(2030, 6, 15)
    # Not started yet: it ends the day before it would have begun.
    assert termination_on_archive(START, end, dt.date(2025, 6, 1)) == dt.date(2025, 12, 31)
    # Over already: it keeps the end it had.
    assert termination_on_archive(START, end, dt.date(2027, 3, 1)) == end


@given(
    start=st.dates(min_value=dt.date(2000, 1, 2), max_value=dt.date(2090, 1, 1)),
    length=st.none() | st.integers(min_value=0, max_value=3000),
    archived=st.dates(min_value=dt.date(1999, 1, 1), max_value=dt.date(2099, 1, 1)),
)
def test_the_end_on_archive_never_leaves_the_contract_period(start, length, archived):
    end = None if length is None else start + dt.timedelta(days=length)
    effective = termination_on_archive(start, end, archived)
    assert effective >= start - dt.timedelta(days=1)
    assert end is None or effective <= end
    if start <= archived and (end is None or archived <= end):
        assert effective == archived


def test_an_item_change_stores_the_trimmed_name_and_the_price_in_ten_thousandths():
    assert item_changes({"name": "  Widget ", "unit_price": Decimal("12.3456")}) == {
        "name": "Widget",
        "unit_price_fixed": 123456,
    }
    assert item_changes({"currency": "USD", "tax_code": "reduced"}) == {
        "currency": "USD",
        "tax_code": "reduced",
    }
    assert item_changes({}) == {}


def test_a_tax_treatment_is_stored_with_its_rate_as_text():
    assert stored_treatment({"type": "standard"}) == {
        "type": "standard",
        "rate": None,
        "note": None,
    }
    assert stored_treatment({"type": "custom_rate", "rate": Decimal("6.5"), "note": "n"}) == {
        "type": "custom_rate",
        "rate": "6.5",
        "note": "n",
    }


def test_special_prices_are_stored_at_least_at_the_currency_places():
    prices = [{"sku": "A", "unit_price": Decimal(5)}, {"sku": "B", "unit_price": Decimal("0.125")}]
    assert stored_prices(prices, "EUR") == [
        {"sku": "A", "unit_price": "5.00"},
        {"sku": "B", "unit_price": "0.125"},
    ]
    assert stored_prices([{"sku": "A", "unit_price": Decimal(5)}], "JPY") == [
        {"sku": "A", "unit_price": "5"}
    ]


def test_rates_are_shown_with_two_decimals():
    assert shown_rates({"standard": Decimal(24), "reduced": Decimal("6.5")}) == {
        "standard": "24.00",
        "reduced": "6.50",
    }
