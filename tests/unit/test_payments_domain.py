"""Payments' rules: numbering, over-allocation, what a refund may take, and how billing's
reports of a payment's allocations combine."""

from __future__ import annotations

import datetime as dt

from services.payments.domain import (
    allocations_after,
    document_number,
    over_allocated,
    refundable,
    reported_allocations,
)


def test_numbers_carry_the_prefix_the_year_and_six_digits() -> None:
    assert document_number("PAY", dt.date(2026, 12, 4), 42) == "PAY-2026-000042"
    assert document_number("REF", dt.date(2027, 1, 1), 1_234_567) == "REF-2027-1234567"


def test_allocations_may_not_add_up_to_more_than_the_payment() -> None:
    assert not over_allocated([("a", 500), ("b", 500)], 1000)
    assert over_allocated([("a", 500), ("b", 501)], 1000)
    assert not over_allocated([], 0)


def test_a_refund_takes_known_credit_less_refunds_billing_has_not_reflected() -> None:
    assert refundable(3000, 1000) == 2000
    assert refundable(None, 0) == 0  # billing never reported credit
    assert refundable(500, 800) == -300


def test_the_payments_own_application_comes_before_later_uses_of_its_credit() -> None:
    own = [{"invoice_id": "i1", "amount": "80.00"}]
    later = [{"invoice_id": "i2", "amount": "20.00"}]
    assert allocations_after(own, later, from_credit=True) == own + later
    assert allocations_after(later, own, from_credit=False) == own + later


def test_reported_allocations_keep_ids_and_amounts_as_text() -> None:
    data = {"allocations": [{"invoice_id": "i1", "amount": 12.5}]}
    assert reported_allocations(data) == [{"invoice_id": "i1", "amount": "12.5"}]
