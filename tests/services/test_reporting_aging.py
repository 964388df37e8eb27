"""Aging and outstanding as of a date: what billing's events say was owed that day, in
buckets of days past due; documents and payments dated later are left out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from shared.clock import today
from tests.services.test_reporting_support import BUCKETS, Books, money, open_books

AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(params=["sqlite", "postgresql"])
def books(service_factory: Any, request: pytest.FixtureRequest) -> Iterator[Books]:
    with open_books(service_factory, reporting_on=request.param) as opened:
        yield opened


def figures(row: dict[str, Any] | None, *names: str) -> dict[str, Any]:
    assert row is not None
    return {name: money(row[name]) for name in names}


def buckets(row: dict[str, Any] | None) -> dict[str, Any]:
    return figures(row, *BUCKETS, "total", "unapplied_credit", "balance")


def expected(**amounts: str) -> dict[str, Any]:
    base = dict.fromkeys((*BUCKETS, "total", "unapplied_credit", "balance"), money("0"))
    return {**base, **{name: money(value) for name, value in amounts.items()}}


def test_aging_as_of_a_past_date_leaves_out_documents_and_payments_dated_after_it(books):
    customer = books.customer("Past Dates Ltd")
    first = books.priced_invoice(customer, "100.00", dt.date(2026, 3, 2))  # due 2026-04-01
    second = books.priced_invoice(customer, "200.00", dt.date(2026, 4, 20))  # due 2026-05-20
    books.billing.pay(customer, "30.00", on=dt.date(2026, 3, 20), invoice_id=first["id"])
    books.billing.pay(customer, "50.00", on=dt.date(2026, 4, 25))  # to the oldest due: first
    books.credit_note(customer, "20.00", dt.date(2026, 5, 10), invoice_id=second["id"])
    books.sync()

    def aging_on(day: str) -> dict[str, Any]:
        return buckets(books.reporting.row("aging", customer, as_of=day))

    assert books.reporting.row("aging", customer, as_of="2026-03-01") is None
    assert aging_on("2026-03-02") == expected(current="100.00", total="100.00", balance="100.00")
    # 30.00 paid; 9 days past the due date; the second invoice is not issued yet
    assert aging_on("2026-04-10") == expected(d1_30="70.00", total="70.00", balance="70.00")
    # 50.00 more on the first (29 days late now), the second issued and not yet due
    assert aging_on("2026-04-30") == expected(
        current="200.00", d1_30="20.00", total="220.00", balance="220.00"
    )
    # 20.00 credited on the second; the first 44 days past due
    assert aging_on("2026-05-15") == expected(
        current="180.00", d31_60="20.00", total="200.00", balance="200.00"
    )
    for day in ("2026-03-02", "2026-04-10", "2026-04-30", "2026-05-15"):
        ledger = books.billing.transactions(customer, to=day).get_json()["items"]
        assert aging_on(day)["balance"] == money(ledger[-1]["balance_after"]), day


def test_aging_buckets_count_days_past_due_and_the_due_day_itself_is_current(books):
    edges = {-5: "current", 0: "current", 1: "d1_30", 30: "d1_30", 31: "d31_60"}
    edges |= {60: "d31_60", 61: "d61_90", 90: "d61_90", 91: "d90_plus"}
    customers = {}
    for days_late in edges:
        customer = books.customer(f"Edge {days_late:+d}")
        due = AS_OF - dt.timedelta(days=days_late)
        issued = min(due, AS_OF) - dt.timedelta(days=1)
        books.priced_invoice(customer, "100.00", issued, due_date=due.isoformat())
        customers[days_late] = customer
    books.sync()

    for days_late, bucket in edges.items():
        row = books.reporting.row("aging", customers[days_late], as_of=AS_OF.isoformat())
        want = expected(**{bucket: "100.00"}, total="100.00", balance="100.00")
        assert buckets(row) == want, days_late
        late = books.reporting.row("outstanding", customers[days_late], as_of=AS_OF.isoformat())
        assert late is not None
        assert late["oldest_overdue_days"] == max(days_late, 0), days_late
        assert money(late["overdue"]) == (money("100.00") if days_late > 0 else 0), days_late


def test_aging_totals_are_the_sum_of_the_customer_rows_per_currency(books):
    for name, price in (("Alpha", "100.00"), ("Beta", "250.50"), ("Gamma", "0.99")):
        books.priced_invoice(books.customer(name), price, dt.date(2026, 6, 1))
    books.sync()

    report = books.reporting.report("aging", as_of=AS_OF.isoformat())
    assert [row["customer_name"] for row in report["items"]] == ["Alpha", "Beta", "Gamma"]
    assert set(report["totals"]) == {"EUR"}
    for name in (*BUCKETS, "total", "balance"):
        assert money(report["totals"]["EUR"][name]) == sum(
            money(row[name]) for row in report["items"]
        ), name
    assert money(report["totals"]["EUR"]["total"]) == money("351.49")


def test_a_voided_invoice_is_owed_until_its_void_date_and_not_after(books):
    customer = books.customer("Voided Ltd")
    invoice = books.priced_invoice(customer, "100.00", dt.date(2026, 3, 2))
    books.void(invoice["id"])  # voided today
    books.sync()

    the_day_before = (today() - dt.timedelta(days=1)).isoformat()
    before = books.reporting.row("aging", customer, as_of=the_day_before)
    assert figures(before, "total", "balance") == {"total": 100, "balance": 100}
    assert books.reporting.row("aging", customer, as_of=today().isoformat()) is None
    assert books.reporting.row("outstanding", customer, as_of=today().isoformat()) is None


def test_an_overpayment_shows_as_unapplied_credit_and_a_negative_balance(books):
    customer = books.customer("Overpays Ltd")
    books.priced_invoice(customer, "100.00", dt.date(2026, 3, 2))
    books.billing.pay(customer, "130.00", on=dt.date(2026, 3, 10))
    books.sync()

    aging = books.reporting.row("aging", customer, as_of=AS_OF.isoformat())
    assert buckets(aging) == expected(unapplied_credit="30.00", balance="-30.00")
    outstanding = books.reporting.row("outstanding", customer, as_of=AS_OF.isoformat())
    assert figures(outstanding, "balance", "overdue", "unapplied_credit") == {
        "balance": money("-30.00"),
        "overdue": 0,
        "unapplied_credit": money("30.00"),
    }
    account = books.billing.account(customer)
    assert money(account["unapplied_credit"]) == money("30.00")
    assert money(account["balance"]) == money("-30.00")


def test_outstanding_shows_the_overdue_amount_and_the_oldest_invoice_days_past_due(books):
    customer = books.customer("Late Payer Ltd")
    books.priced_invoice(customer, "100.00", dt.date(2026, 3, 2))  # due 2026-04-01
    books.priced_invoice(customer, "60.00", dt.date(2026, 5, 1))  # due 2026-05-31
    books.priced_invoice(customer, "40.00", dt.date(2026, 6, 20))  # due 2026-07-20
    books.billing.pay(customer, "25.00", on=dt.date(2026, 6, 1))  # to the oldest due
    books.sync()

    row = books.reporting.row("outstanding", customer, as_of=AS_OF.isoformat())
    assert row is not None
    assert row["customer_name"] == "Late Payer Ltd"
    assert row["currency"] == "EUR"
    assert row["oldest_overdue_days"] == (AS_OF - dt.date(2026, 4, 1)).days
    assert figures(row, "balance", "overdue", "unapplied_credit") == {
        "balance": money("175.00"),
        "overdue": money("135.00"),
        "unapplied_credit": 0,
    }


def test_a_customer_who_owes_nothing_either_way_is_left_out_of_outstanding(books):
    settled = books.customer("Settled Ltd")
    books.priced_invoice(settled, "100.00", dt.date(2026, 3, 2))
    books.billing.pay(settled, "100.00", on=dt.date(2026, 3, 5))
    owing = books.customer("Owing Ltd")
    books.priced_invoice(owing, "10.00", dt.date(2026, 3, 2))
    books.sync()

    listed = books.reporting.report("outstanding", as_of=AS_OF.isoformat())["items"]
    assert [row["customer_id"] for row in listed] == [owing]


def test_payment_credit_used_by_the_next_invoice_lowers_what_aging_shows_due(books):
    customer = books.customer("Prepaid Ltd")
    books.billing.pay(customer, "40.00", on=dt.date(2026, 3, 1))
    books.priced_invoice(customer, "100.00", dt.date(2026, 3, 2))
    books.sync()

    row = books.reporting.row("aging", customer, as_of=AS_OF.isoformat())
    assert buckets(row) == expected(d61_90="60.00", total="60.00", balance="60.00")
    assert money(books.billing.account(customer)["open_total"]) == money("60.00")


def test_credit_note_credit_used_by_the_next_invoice_lowers_what_aging_shows_due(books):
    # Billing uses the standalone note's 40.00 on the invoice (amount_due 60.00) and says so
    # only in billing.invoice.updated / .partially_paid: no billing.payment.applied for it.
    customer = books.customer("Credited Ltd")
    books.credit_note(customer, "40.00", dt.date(2026, 3, 1))
    invoice = books.priced_invoice(customer, "100.00", dt.date(2026, 3, 2))
    books.sync()
    assert money(books.billing.get_invoice(invoice["id"])["amount_due"]) == money("60.00")

    row = books.reporting.row("aging", customer, as_of=AS_OF.isoformat())
    assert buckets(row) == expected(d61_90="60.00", total="60.00", balance="60.00")
    outstanding = books.reporting.row("outstanding", customer, as_of=AS_OF.isoformat())
    assert figures(outstanding, "overdue", "unapplied_credit") == {
        "overdue": money("60.00"),
        "unapplied_credit": 0,
    }


def test_the_currency_filter_keeps_only_that_currencys_customers(books):
    euro = books.customer("Euro GmbH", "EUR")
    yen = books.customer("Yen KK", "JPY")
    books.priced_invoice(euro, "100.00", dt.date(2026, 6, 1))
    books.priced_invoice(yen, "15000", dt.date(2026, 6, 1))
    books.sync()

    for name in ("aging", "outstanding"):
        report = books.reporting.report(name, as_of=AS_OF.isoformat(), currency="JPY")
        assert [row["customer_id"] for row in report["items"]] == [yen], name
        assert set(report["totals"]) == {"JPY"}, name
    assert books.reporting.row("aging", euro, as_of=AS_OF.isoformat(), currency="EUR")
