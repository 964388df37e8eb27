"""Billing invoice lifecycle: gapless numbers per year (also under concurrent issuing),
drafts, issuing, voiding, and Idempotency-Key replays."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from shared.clock import today
from tests.services.test_billing_support import DAY, Billing


def ledger_sum(billing: Billing, customer: str) -> int:
    return sum(entry.amount_minor for entry in billing.ledger(customer))


def test_numbers_are_gapless_per_year_and_restart_for_a_new_year(billing):
    customer = billing.customer()

    first = billing.invoice(customer, issue_date=dt.date(2026, 1, 5))
    billing.invoice(customer, draft=True)  # drafts take no number
    refused = billing.post_invoice(customer, [{"sku": "NOPE", "quantity": "1"}])
    second = billing.invoice(customer, issue_date=dt.date(2026, 12, 31))
    next_year = billing.invoice(customer, issue_date=dt.date(2027, 1, 1))
    back_in_2026 = billing.invoice(customer, issue_date=dt.date(2026, 6, 1))

    assert refused.status_code == 422
    assert [first["number"], second["number"], back_in_2026["number"]] == [
        "INV-2026-000001",
        "INV-2026-000002",
        "INV-2026-000003",
    ]
    assert next_year["number"] == "INV-2027-000001"


def issue_at_once(billing: Billing, customers: list[str]) -> list[Any]:
    """One thread per customer entry, all posting an invoice at the same moment."""
    start = threading.Barrier(len(customers))
    answers: list[Any] = [None] * len(customers)

    def issue(index: int, customer: str) -> None:
        client = billing.client()
        start.wait()
        answers[index] = client.post(
            "/invoices",
            json={
                "customer_id": customer,
                "issue_date": DAY.isoformat(),
                "lines": [{"sku": "WIDGET", "quantity": "1"}],
            },
        )

    threads = [threading.Thread(target=issue, args=item) for item in enumerate(customers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


def test_invoices_issued_at_once_get_unique_gapless_numbers(billing):
    regular = billing.customer()
    billing.invoice(regular, issue_date=dt.date(2025, 12, 1))  # the account exists already
    callers = [regular] * 4 + [billing.customer() for _ in range(4)]

    answers = issue_at_once(billing, callers)

    assert [a.status_code for a in answers] == [201] * 8, [a.get_json() for a in answers]
    numbers = sorted(a.get_json()["number"] for a in answers)
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 9)]
    assert len(billing.ledger(regular)) == 5
    assert billing.account(regular)["balance"] == "620.00"


def test_first_invoices_of_a_new_customer_issued_at_once_all_succeed(billing):
    # A customer billing has never posted anything for has no account row yet.
    newcomer = billing.customer()

    answers = issue_at_once(billing, [newcomer] * 4)

    assert [a.status_code for a in answers] == [201] * 4, [a.get_json() for a in answers]
    numbers = sorted(a.get_json()["number"] for a in answers)
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 5)]
    assert billing.account(newcomer)["balance"] == "496.00"


def test_a_draft_has_no_number_and_no_ledger_entry(billing):
    customer = billing.customer()
    mark = billing.mark()

    draft = billing.invoice(customer, ("WIDGET", "2"), draft=True)

    assert draft["status"] == "draft"
    assert draft["number"] is None
    assert draft["total"] == "248.00"
    assert billing.ledger(customer) == []
    assert billing.events("billing.invoice.issued", after=mark) == []
    assert billing.account(customer)["balance"] == "0.00"


def test_issuing_a_draft_numbers_posts_reprices_and_announces_it(billing):
    customer = billing.customer(payment_terms="net_14")
    draft = billing.invoice(customer, ("WIDGET", "2"), draft=True)
    billing.feed(
        "contracts.item.created",
        "WIDGET",
        {"sku": "WIDGET", "name": "Widget", "unit_price": "110.00", "currency": "EUR"}
        | {"tax_code": "standard"},
        "contracts",
    )

    answer = billing.client().post(f"/invoices/{draft['id']}/issue")

    assert answer.status_code == 200, answer.get_json()
    issued = answer.get_json()
    assert issued["status"] == "open"
    assert issued["number"] == "INV-2026-000001"
    assert issued["issue_date"] == DAY.isoformat(), "the draft asked for this issue date"
    assert issued["due_date"] == (DAY + dt.timedelta(days=14)).isoformat()
    assert issued["total"] == "272.80", "re-priced at the catalog's new price"
    (entry,) = billing.ledger(customer)
    assert (entry.type, entry.reference, entry.amount_minor) == ("invoice", issued["number"], 27280)
    (event,) = billing.events("billing.invoice.issued")
    assert event["subject"] == draft["id"]
    assert event["data"]["number"] == issued["number"]
    assert event["data"]["total"] == "272.80"


def test_a_draft_without_an_issue_date_is_dated_the_day_it_is_issued(billing):
    customer = billing.customer(payment_terms="net_30")
    answer = billing.post_invoice(customer, [{"sku": "BOOK", "quantity": "1"}], draft=True)
    draft = answer.get_json()
    assert draft["issue_date"] is None

    issued = billing.client().post(f"/invoices/{draft['id']}/issue").get_json()

    assert issued["issue_date"] == today().isoformat()
    assert issued["due_date"] == (today() + dt.timedelta(days=30)).isoformat()
    assert issued["number"].startswith(f"INV-{today().year}-")


def test_issuing_anything_but_a_draft_is_409(billing):
    customer = billing.customer()
    issued = billing.invoice(customer)
    draft = billing.invoice(customer, draft=True)
    assert billing.client().post(f"/invoices/{draft['id']}/issue").status_code == 200
    voided = billing.invoice(customer, draft=True)
    billing.client("admin").post(f"/invoices/{voided['id']}/void", json={"reason": "typo"})

    for invoice in (issued, draft, voided):
        answer = billing.client().post(f"/invoices/{invoice['id']}/issue")
        assert answer.status_code == 409, invoice["status"]
    assert len(billing.ledger(customer)) == 2


def test_a_viewer_cannot_issue_and_a_clerk_cannot_void(billing):
    customer = billing.customer()
    draft = billing.invoice(customer, draft=True)

    assert billing.client("viewer").post(f"/invoices/{draft['id']}/issue").status_code == 403
    assert billing.client("clerk").post(f"/invoices/{draft['id']}/void", json={}).status_code == 403
    assert billing.get_invoice(draft["id"])["status"] == "draft"


def test_voiding_a_draft_posts_nothing(billing):
    customer = billing.customer()
    draft = billing.invoice(customer, draft=True)

    answer = billing.client("admin").post(f"/invoices/{draft['id']}/void", json={"reason": "dup"})

    assert answer.status_code == 200
    assert answer.get_json()["status"] == "void"
    assert billing.ledger(customer) == []


def test_voiding_an_issued_invoice_offsets_its_ledger_entry(billing):
    customer = billing.customer()
    invoice = billing.invoice(customer, ("WIDGET", "1"))
    mark = billing.mark()

    answer = billing.client("admin").post(
        f"/invoices/{invoice['id']}/void", json={"reason": "wrong customer"}
    )

    assert answer.status_code == 200, answer.get_json()
    voided = answer.get_json()
    assert (voided["status"], voided["void_reason"]) == ("void", "wrong customer")
    assert voided["number"] == invoice["number"], "the number stays used"
    assert [e.amount_minor for e in billing.ledger(customer)] == [12400, -12400]
    account = billing.account(customer)
    assert (account["balance"], account["open_total"], account["open_invoices"]) == (
        "0.00",
        "0.00",
        0,
    )
    (event,) = billing.events("billing.invoice.voided", after=mark)
    assert event["data"]["invoice_id"] == invoice["id"]
    assert event["data"]["reason"] == "wrong customer"
    (balance,) = billing.events("billing.account.balance_changed", after=mark)
    assert balance["data"]["balance"] == "0.00"
    assert billing.client("admin").post(f"/invoices/{invoice['id']}/void", json={}).status_code == (
        409
    ), "already void"


def test_an_invoice_with_anything_paid_or_credited_cannot_be_voided(billing):
    customer = billing.customer()
    paid = billing.invoice(customer, ("WIDGET", "1"))
    billing.pay(customer, "0.01", invoice_id=paid["id"])
    credited = billing.invoice(customer, ("WIDGET", "1"))
    note = billing.credit_note(customer, "1.00", invoice_id=credited["id"])
    assert note.status_code == 201, note.get_json()

    for invoice in (paid, credited):
        answer = billing.client("admin").post(f"/invoices/{invoice['id']}/void", json={})
        assert answer.status_code == 409
        assert billing.get_invoice(invoice["id"])["status"] == "partially_paid"
    assert ledger_sum(billing, customer) == 2 * 12400 - 1 - 100


def test_the_same_idempotency_key_and_body_return_the_same_invoice_once(billing):
    customer = billing.customer()
    body = {
        "customer_id": customer,
        "issue_date": DAY.isoformat(),
        "lines": [{"sku": "WIDGET", "quantity": "1"}],
    }
    headers = {"Idempotency-Key": "order-4711"}

    first = billing.client().post("/invoices", json=body, headers=headers)
    again = billing.client().post("/invoices", json=body, headers=headers)
    other_body = billing.client().post(
        "/invoices", json={**body, "notes": "changed"}, headers=headers
    )

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["number"] == first.get_json()["number"] == "INV-2026-000001"
    assert other_body.status_code == 409
    assert len(billing.ledger(customer)) == 1
    assert len(billing.events("billing.invoice.issued")) == 1
    assert billing.invoice(customer)["number"] == "INV-2026-000002", "no number was burnt"
