"""What the accountant reads (issue 17): revenue on one basis (credit notes net like
invoices, refunds out of collected), payment behaviour that counts payments only and gives
totals, reports that default to the year to date, and CSV a spreadsheet reads in Greek."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest

from shared.clock import today
from tests.services.test_reporting_support import Books, money, open_books


@pytest.fixture
def books(service_factory: Any) -> Iterator[Books]:
    with open_books(service_factory) as opened:
        yield opened


def row_of(report: dict[str, Any], customer_id: str) -> dict[str, Any]:
    (row,) = [r for r in report["items"] if r["customer_id"] == customer_id]
    return row


def test_revenue_states_credit_notes_net_and_takes_refunds_out_of_collected(books):
    """124.00 invoiced (100 + 24 % tax), 150.00 paid, 12.40 credited (10 + 2.40 tax) and the
    26.00 overpaid refunded."""
    customer = books.customer("Basis Ltd")
    invoice = books.invoice(customer, ("WIDGET", "1"), issue_date=dt.date(2026, 3, 2))
    books.billing.pay(customer, "150.00", on=dt.date(2026, 3, 10), invoice_id=invoice["id"])
    books.credit_note(customer, "12.40", dt.date(2026, 3, 12), tax_rate="24.00")
    books.billing.refund(customer, "26.00", on=dt.date(2026, 3, 20))
    books.sync()

    report = books.reporting.report("revenue", **{"from": "2026-03-01", "to": "2026-03-31"})

    figures = {
        k: money(v)
        for k, v in row_of(report, customer).items()
        if k.endswith(("invoiced", "credited", "tax", "gross", "revenue", "collected", "refunded"))
    }
    assert figures == {
        "invoiced": money("100.00"),
        "credited": money("10.00"),
        "net_revenue": money("90.00"),
        "tax": money("21.60"),
        "invoiced_gross": money("124.00"),
        "credited_tax": money("2.40"),
        "credited_gross": money("12.40"),
        "collected": money("124.00"),
        "refunded": money("26.00"),
    }


def test_a_rebuild_states_revenue_as_the_consumer_did(books):
    customer = books.customer("Rebuilt Ltd")
    books.invoice(customer, ("WIDGET", "1"), issue_date=dt.date(2026, 3, 2))
    books.credit_note(customer, "12.40", dt.date(2026, 3, 12), tax_rate="24.00")
    books.billing.pay(customer, "150.00", on=dt.date(2026, 3, 10))
    books.billing.refund(customer, "26.00", on=dt.date(2026, 3, 20))
    books.sync()
    period = {"from": "2026-03-01", "to": "2026-03-31"}
    before = books.reporting.report("revenue", **period)
    behaviour = books.reporting.report("payment-behavior", **period)

    assert books.reporting.rebuild().status_code == 200

    assert books.reporting.report("revenue", **period) == before
    assert books.reporting.report("payment-behavior", **period) == behaviour


@pytest.fixture
def behaviour(books: Books) -> dict[str, str]:
    """Partial Ltd: 124.00 invoiced on 2 March, credited 20.00, paid 30.00, and 40.00 paid
    and then returned by the bank. Prompt Ltd: 124.00 paid in full the next day."""
    partial = books.customer("Partial Ltd")
    invoice = books.invoice(partial, ("WIDGET", "1"), issue_date=dt.date(2026, 3, 2))
    books.credit_note(partial, "20.00", dt.date(2026, 3, 5), invoice_id=invoice["id"])
    books.billing.pay(partial, "30.00", on=dt.date(2026, 3, 10), invoice_id=invoice["id"])
    bounced = books.billing.pay(partial, "40.00", on=dt.date(2026, 3, 12), invoice_id=invoice["id"])
    books.billing.reverse(bounced, partial, on=dt.date(2026, 3, 15))
    prompt = books.customer("Prompt Ltd")
    paid = books.invoice(prompt, ("WIDGET", "1"), issue_date=dt.date(2026, 3, 2))
    books.billing.pay(prompt, "124.00", on=dt.date(2026, 3, 3), invoice_id=paid["id"])
    books.sync()
    return {"partial": partial, "prompt": prompt}


def test_partial_payments_count_payments_that_were_not_reversed_and_nothing_else(books, behaviour):
    report = books.reporting.report(
        "payment-behavior", **{"from": "2026-03-01", "to": "2026-03-31"}
    )

    assert row_of(report, behaviour["partial"])["partial_payments"] == 1
    assert row_of(report, behaviour["prompt"])["partial_payments"] == 0


def test_payment_behaviour_has_totals_over_all_customers(books, behaviour):
    report = books.reporting.report(
        "payment-behavior", **{"from": "2026-03-01", "to": "2026-03-31"}
    )

    assert set(report["totals"]) == {"EUR"}
    totals = report["totals"]["EUR"]
    assert totals["invoices_paid"] == 1
    assert totals["avg_days_to_pay"] == 1.0
    assert totals["on_time_rate"] == 1.0
    assert totals["partial_payments"] == 1
    # DSO = open at `to` (124 - 20 - 30 = 74.00) / invoiced (248.00) x 31 days
    assert totals["dso"] == round(7400 / 24800 * 31, 1)


@pytest.mark.parametrize("name", ["revenue", "payment-behavior"])
def test_a_period_report_without_from_and_to_is_the_year_to_date(books, name):
    answer = books.reporting.get(f"/reports/{name}")

    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["from"] == today().replace(month=1, day=1).isoformat()
    assert body["to"] == today().isoformat()


def test_a_period_report_with_only_to_starts_on_the_first_of_its_year(books):
    body = books.reporting.report("revenue", to="2026-05-31")

    assert (body["from"], body["to"]) == ("2026-01-01", "2026-05-31")


@pytest.mark.parametrize("name", ["aging", "revenue", "payment-behavior"])
def test_report_csv_has_a_byte_order_mark_unless_bom_0_and_reads_greek_names(books, name):
    customer = books.customer("Αθηνά Ξενοδοχεία ΑΕ")
    books.invoice(customer, ("WIDGET", "1"), issue_date=dt.date(2026, 3, 2))
    books.sync()
    query = (
        {"as_of": "2026-03-31"} if name == "aging" else {"from": "2026-03-01", "to": "2026-03-31"}
    )

    data = books.reporting.get(f"/reports/{name}", format="csv", **query).get_data()
    bare = books.reporting.get(f"/reports/{name}", format="csv", bom="0", **query).get_data()

    assert data.startswith(b"\xef\xbb\xbf")
    assert bare == data[3:]
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["customer_name"] for r in rows] == ["Αθηνά Ξενοδοχεία ΑΕ"]
