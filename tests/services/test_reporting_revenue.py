"""GET /reports/revenue: invoiced (net), tax (less credited tax), credited (net) and collected
(payments less reversals and refunds) in a period, per customer or per month; a voided invoice
is not revenue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from shared.clock import today
from tests.services.test_reporting_support import Books, money, open_books

FIGURES = ("invoiced", "tax", "credited", "collected")


@pytest.fixture
def books(service_factory: Any) -> Iterator[Books]:
    with open_books(service_factory) as opened:
        yield opened


def revenue(books: Books, start: str, end: str, **query: Any) -> dict[str, Any]:
    return books.reporting.report("revenue", **{"from": start, "to": end, **query})


def figures(row: dict[str, Any]) -> dict[str, Any]:
    return {name: money(row[name]) for name in FIGURES}


def expected(**amounts: str) -> dict[str, Any]:
    return {name: money(amounts.get(name, "0")) for name in FIGURES}


def by(report: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in report["items"]}


@pytest.fixture
def history(books: Books) -> dict[str, str]:
    """March to May of Main Ltd: invoiced, pays, is credited, has a payment reversed."""
    billing = books.billing
    main = books.customer("Main Ltd")
    one = books.invoice(main, ("WIDGET", "1"), issue_date=dt.date(2026, 3, 2))  # 100 + 24
    books.invoice(main, ("BOOK", "2"), issue_date=dt.date(2026, 4, 15))  # 40 + 5.20
    billing.pay(main, "50.00", on=dt.date(2026, 3, 10), invoice_id=one["id"])
    bounced = billing.pay(main, "30.00", on=dt.date(2026, 3, 28))
    billing.reverse(bounced, main, on=dt.date(2026, 4, 3))
    books.credit_note(main, "12.40", dt.date(2026, 4, 20), invoice_id=one["id"])
    books.invoice(main, ("FLAT", "1"), issue_date=dt.date(2026, 5, 5))  # after the period
    books.sync()
    return {"main": main}


def voided_in_march(books: Books) -> str:
    """Voided Ltd: one invoice issued 2026-03-15 (200 + 48) and voided today."""
    voided = books.customer("Voided Ltd")
    books.void(books.invoice(voided, ("WIDGET", "2"), issue_date=dt.date(2026, 3, 15))["id"])
    books.sync()
    return voided


def test_revenue_per_customer_is_net_invoiced_tax_credited_and_collected(books, history):
    report = revenue(books, "2026-03-01", "2026-04-30")

    rows = by(report, "customer_id")
    assert figures(rows[history["main"]]) == expected(
        invoiced="140.00", tax="26.80", credited="10.00", collected="50.00"
    )
    assert rows[history["main"]]["customer_name"] == "Main Ltd"
    assert rows[history["main"]]["currency"] == "EUR"
    assert figures(report["totals"]["EUR"]) == figures(rows[history["main"]])


def test_a_voided_invoice_is_not_revenue(books, history):
    voided = voided_in_march(books)

    report = revenue(books, "2026-03-01", today().isoformat())

    row = by(report, "customer_id").get(voided)
    assert row is None or figures(row) == expected()
    assert money(report["totals"]["EUR"]["invoiced"]) == money("240.00")


def test_a_voided_invoice_is_not_revenue_of_the_month_it_was_issued_in(books, history):
    voided = voided_in_march(books)

    report = revenue(books, "2026-03-01", "2026-03-31")

    row = by(report, "customer_id").get(voided)
    assert row is None or figures(row) == expected()


def test_revenue_per_month_puts_each_figure_in_the_month_of_its_date(books, history):
    report = revenue(books, "2026-03-01", "2026-05-31", group_by="month")

    months = by(report, "month")
    assert list(months) == ["2026-03", "2026-04", "2026-05"]
    assert figures(months["2026-03"]) == expected(invoiced="100.00", tax="24.00", collected="80.00")
    assert figures(months["2026-04"]) == expected(
        invoiced="40.00", tax="2.80", credited="10.00", collected="-30.00"
    )
    assert figures(months["2026-05"]) == expected(invoiced="100.00")
    assert all(row["currency"] == "EUR" for row in report["items"])


def test_revenue_of_a_period_is_the_sum_of_its_months_revenue(books, history):
    voided_in_march(books)  # issued in March, voided in the current month
    whole = by(revenue(books, "2026-03-01", today().isoformat(), group_by="month"), "month")

    for month, row in whole.items():
        first = dt.date.fromisoformat(f"{month}-01")
        last = (first + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
        alone = revenue(books, first.isoformat(), last.isoformat(), group_by="month")
        assert [figures(r) for r in alone["items"]] == [figures(row)], month


def test_the_period_filter_leaves_out_what_is_dated_outside_it(books, history):
    april = revenue(books, "2026-04-01", "2026-04-30")

    rows = by(april, "customer_id")
    assert list(rows) == [history["main"]]
    assert figures(rows[history["main"]]) == expected(
        invoiced="40.00", tax="2.80", credited="10.00", collected="-30.00"
    )
    # both ends belong to the period
    edges = revenue(books, "2026-03-02", "2026-03-10")
    assert figures(by(edges, "customer_id")[history["main"]]) == expected(
        invoiced="100.00", tax="24.00", collected="50.00"
    )
    assert revenue(books, "2026-01-01", "2026-02-28")["items"] == []


def test_revenue_with_to_before_from_is_422(books):
    answer = books.reporting.get("/reports/revenue", **{"from": "2026-04-01", "to": "2026-03-31"})

    assert answer.status_code == 422, answer.get_json()
    assert answer.mimetype == "application/problem+json"
    assert "to" in answer.get_json()["errors"]


def test_revenue_of_a_single_day_is_allowed(books, history):
    report = revenue(books, "2026-03-10", "2026-03-10")

    assert figures(by(report, "customer_id")[history["main"]]) == expected(collected="50.00")
