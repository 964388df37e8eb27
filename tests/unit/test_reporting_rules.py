"""Reporting's figures without a database: revenue on one basis from what was invoiced,
credited, received and refunded; payment behaviour from days to pay and days late."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting.domain import REVENUE_FIGURES, behaviour_figures, revenue_figures

CENTS = st.integers(min_value=0, max_value=10**9)


def test_revenue_figures_by_example():
    figures = revenue_figures(
        invoiced=10_000, invoiced_tax=2_400, credited_gross=1_240, credited_tax=240,
        received=9_000, refunded=500,
    )  # fmt: skip

    assert figures == {
        "invoiced": 10_000,
        "credited": 1_000,
        "net_revenue": 9_000,
        "tax": 2_160,
        "invoiced_gross": 12_400,
        "credited_tax": 240,
        "credited_gross": 1_240,
        "collected": 8_500,
        "refunded": 500,
    }
    assert tuple(figures) == REVENUE_FIGURES


@settings(max_examples=50, deadline=None)
@given(CENTS, CENTS, CENTS, CENTS, CENTS, CENTS)
def test_net_revenue_and_tax_add_up_to_gross_invoiced_less_gross_credited(
    invoiced, invoiced_tax, credited_gross, credited_tax, received, refunded
):
    f = revenue_figures(
        invoiced=invoiced, invoiced_tax=invoiced_tax, credited_gross=credited_gross,
        credited_tax=credited_tax, received=received, refunded=refunded,
    )  # fmt: skip

    assert f["net_revenue"] + f["tax"] == f["invoiced_gross"] - f["credited_gross"]
    assert f["collected"] + f["refunded"] == received


def row(days_to_pay, days_late, partial=(), open_overdue=0, invoiced=0, open_=0):
    return {
        "days_to_pay": list(days_to_pay),
        "days_late": list(days_late),
        "partial": set(partial),
        "open_overdue": open_overdue,
        "invoiced": invoiced,
        "open": open_,
    }


def test_behaviour_figures_by_example():
    figures = behaviour_figures(row([10, 20, 45], [0, 0, 15], {"p1"}, 2, 90_000, 30_000), 90)

    assert figures == {
        "invoices_paid": 3,
        "avg_days_to_pay": 25.0,
        "avg_days_late": 5.0,
        "on_time_rate": 0.6667,
        "partial_payments": 1,
        "open_overdue": 2,
        "dso": 30.0,
    }


def test_with_nothing_paid_or_invoiced_the_averages_are_unknown_not_zero():
    figures = behaviour_figures(row([], []), 30)

    assert figures["avg_days_to_pay"] is None
    assert figures["on_time_rate"] is None
    assert figures["dso"] is None
