"""Customer accounts and their transaction history, and the overdue job."""

from __future__ import annotations

import csv
import datetime as dt
import io

from shared.clock import today
from tests.services.test_billing_support import (
    Billing,
    new_id,
)


def test_the_account_shows_balance_open_overdue_and_credit(billing):
    customer = billing.customer(payment_terms="net_30")
    late = billing.invoice(customer, ("FLAT", "1"), issue_date=today() - dt.timedelta(days=45))
    due_today = billing.invoice(customer, ("FLAT", "2"), issue_date=today() - dt.timedelta(30))
    billing.invoice(customer, ("FLAT", "3"), issue_date=today())
    billing.pay(customer, "40.00", invoice_id=late["id"])
    billing.pay(customer, "200.00", invoice_id=due_today["id"], on=today())  # fully paid
    paid_off = billing.get_invoice(due_today["id"])
    assert paid_off["status"] == "paid"

    account = billing.account(customer)

    assert account["customer_id"] == customer
    assert account["currency"] == "EUR"
    assert account["balance"] == "360.00"
    assert account["open_total"] == "360.00"
    assert account["overdue_total"] == "60.00", "only the invoice past its due date"
    assert account["unapplied_credit"] == "0.00"
    assert account["open_invoices"] == 2
    assert billing.get_invoice(late["id"])["days_overdue"] == 15


def test_an_account_of_a_customer_with_nothing_posted_is_all_zero(billing):
    customer = billing.customer(currency="USD")

    account = billing.account(customer)

    assert (account["balance"], account["open_total"], account["overdue_total"]) == (
        "0.00",
        "0.00",
        "0.00",
    )
    assert (account["currency"], account["open_invoices"]) == ("USD", 0)


def test_an_unknown_customer_has_no_account_404(billing):
    stranger = new_id()
    viewer = billing.client("viewer")

    assert viewer.get(f"/accounts/{stranger}").status_code == 404
    assert viewer.get(f"/accounts/{stranger}/transactions").status_code == 404
    assert viewer.get("/accounts/not-a-uuid").status_code == 404


def history(billing: Billing) -> tuple[str, dict[str, str]]:
    """A customer with one of each transaction type, dated 2026-03-01 .. 2026-03-06."""
    customer = billing.customer()
    first = billing.invoice(customer, ("FLAT", "1"), issue_date=dt.date(2026, 3, 1))
    payment = billing.pay(customer, "150.00", on=dt.date(2026, 3, 2))
    note = billing.credit_note(customer, "10.00", date="2026-03-03").get_json()
    billing.refund(customer, "20.00", on=dt.date(2026, 3, 4))
    billing.reverse(payment, customer, on=dt.date(2026, 3, 5))
    second = billing.invoice(customer, ("WIDGET", "1"), issue_date=dt.date(2026, 3, 6))
    return customer, {"first": first["id"], "second": second["id"], "payment": payment} | {
        "note": note["number"]
    }


def test_transactions_are_oldest_first_with_signed_amounts_and_running_balance(billing):
    customer, ids = history(billing)

    answer = billing.transactions(customer)

    assert answer.status_code == 200
    body = answer.get_json()
    assert body["opening_balance"] == "0.00"
    rows = [(t["date"], t["type"], t["amount"], t["balance_after"]) for t in body["items"]]
    assert rows == [
        ("2026-03-01", "invoice", "100.00", "100.00"),
        ("2026-03-02", "payment", "-150.00", "-50.00"),
        ("2026-03-03", "credit_note", "-10.00", "-60.00"),
        ("2026-03-04", "refund", "20.00", "-40.00"),
        ("2026-03-05", "payment_reversal", "150.00", "110.00"),
        ("2026-03-06", "invoice", "124.00", "234.00"),
    ]
    items = body["items"]
    assert (items[0]["invoice_id"], items[0]["reference"]) == (ids["first"], "INV-2026-000001")
    assert items[1]["payment_id"] == items[4]["payment_id"] == ids["payment"]
    assert items[2]["reference"] == ids["note"]
    assert items[5]["invoice_id"] == ids["second"]
    assert billing.account(customer)["balance"] == "234.00"


def test_transactions_between_dates_start_from_the_opening_balance(billing):
    customer, _ = history(billing)

    body = billing.transactions(customer, **{"from": "2026-03-03", "to": "2026-03-04"}).get_json()

    assert body["opening_balance"] == "-50.00"
    assert [(t["type"], t["balance_after"]) for t in body["items"]] == [
        ("credit_note", "-60.00"),
        ("refund", "-40.00"),
    ]


def test_transactions_come_as_csv(billing):
    customer, _ = history(billing)

    answer = billing.transactions(customer, format="csv")

    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data().decode("utf-8-sig"))))
    assert [(r["type"], r["amount"], r["balance_after"]) for r in rows][-2:] == [
        ("payment_reversal", "150.00", "110.00"),
        ("invoice", "124.00", "234.00"),
    ]
    assert len(rows) == 6


def test_the_overdue_job_reports_each_invoice_past_due_once(billing):
    customer = billing.customer(payment_terms="net_30")
    first = billing.invoice(customer, issue_date=dt.date(2026, 3, 2))  # due 2026-04-01
    second = billing.invoice(customer, issue_date=dt.date(2026, 3, 11))  # due 2026-04-10
    paid = billing.invoice(customer, issue_date=dt.date(2026, 3, 1))
    billing.pay(customer, "124.00", invoice_id=paid["id"])
    voided = billing.invoice(customer, issue_date=dt.date(2026, 3, 1))
    billing.client("admin").post(f"/invoices/{voided['id']}/void", json={})
    billing.invoice(customer, issue_date=dt.date(2026, 3, 1), draft=True)
    admin = billing.client("admin")

    def run(as_of: str) -> list[str]:
        answer = admin.post("/jobs/overdue", json={"as_of": as_of})
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["as_of"] == as_of
        return answer.get_json()["reported"]

    assert run("2026-04-01") == [], "the due day itself is not overdue"
    assert billing.events("billing.invoice.overdue") == []
    assert run("2026-04-02") == [first["number"]]
    assert run("2026-04-02") == [], "idempotent"
    assert run("2026-04-11") == [second["number"]]
    assert run("2026-05-30") == []

    events = billing.events("billing.invoice.overdue")
    assert [e["subject"] for e in events] == [first["id"], second["id"]]
    data = events[0]["data"]
    assert (data["invoice_id"], data["customer_id"], data["currency"]) == (
        first["id"],
        customer,
        "EUR",
    )
    assert (data["due_date"], data["amount_due"], data["as_of"]) == (
        "2026-04-01",
        "124.00",
        "2026-04-02",
    )


def test_the_overdue_job_is_for_admins_only(billing):
    customer = billing.customer()
    billing.invoice(customer, issue_date=dt.date(2026, 1, 1))

    for role in ("viewer", "clerk"):
        answer = billing.client(role).post("/jobs/overdue", json={"as_of": "2026-06-01"})
        assert answer.status_code == 403
    assert billing.events("billing.invoice.overdue") == []
