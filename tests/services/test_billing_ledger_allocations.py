"""The ledger's payment rows carry their allocations (issue 17): which invoices each payment
pays, by number and amount, in JSON and in CSV; a reversal takes them away."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from tests.services.test_billing_support import DAY


def test_a_payment_row_names_the_invoices_it_pays(billing):
    customer = billing.customer()
    first = billing.invoice(customer, ("WIDGET", "1"), issue_date=DAY)  # 124.00
    second = billing.invoice(customer, ("BOOK", "1"), issue_date=DAY)  # 22.60
    billing.pay(customer, "130.00", on=DAY + dt.timedelta(days=3))

    answer = billing.transactions(customer)

    (payment,) = [row for row in answer.get_json()["items"] if row["type"] == "payment"]
    assert [(a["invoice_number"], a["amount"]) for a in payment["allocations"]] == [
        (first["number"], "124.00"),
        (second["number"], "6.00"),
    ]
    invoices = [row for row in answer.get_json()["items"] if row["type"] == "invoice"]
    assert all(row["allocations"] == [] for row in invoices)

    as_csv = billing.transactions(customer, format="csv").get_data().decode("utf-8-sig")
    (row,) = [r for r in csv.DictReader(io.StringIO(as_csv)) if r["type"] == "payment"]
    assert [a["invoice_number"] for a in json.loads(row["allocations"])] == [
        first["number"],
        second["number"],
    ]


def test_a_reversed_payment_pays_nothing_any_more(billing):
    customer = billing.customer()
    billing.invoice(customer, ("WIDGET", "1"), issue_date=DAY)
    payment_id = billing.pay(customer, "50.00", on=DAY)
    billing.reverse(payment_id, customer, on=DAY + dt.timedelta(days=5))

    rows = billing.transactions(customer).get_json()["items"]

    (payment,) = [row for row in rows if row["type"] == "payment"]
    assert payment["allocations"] == []
