"""Receipts, partial-payment notices, reminders, reversals and refunds state the figures as
they are when they are SENT (issue 17): what each invoice still asks and the credit left
come from one request to billing at that moment; while billing cannot answer, the email
waits (no attempt charged) rather than go with the figures of when it was queued."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest

from services.notifier.commands import run_reminders
from services.notifier.documents import FRESH_FOR, Accounts, _account_queries
from shared.web.client import forget_local, register_local
from tests.services.notifier_support import (
    FAILED,
    SENT,
    Notifier,
    SmtpServer,
    new_id,
    smtp_server,
)
from tests.support.realmode import free_port


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def notifier(service_factory, smtp: SmtpServer) -> Iterator[Notifier]:
    notifier = Notifier(
        service_factory(
            "notifier",
            TAMEIO_SMTP_URL=smtp.url,
            TAMEIO_BILLING_URL=f"http://127.0.0.1:{free_port()}",  # when not mounted: down
        )
    )
    yield notifier
    forget_local("billing")


def issued_and_emailed(notifier: Notifier, smtp: SmtpServer, language: str = "en") -> tuple:
    customer = notifier.customer(email="ap@acme.test", language=language)
    invoice = notifier.invoice(customer, "100.00")
    notifier.deliver()
    smtp.wait_for(1)
    smtp.mailbox.received.clear()
    notifier.billing_requests.clear()
    return customer, notifier.invoices[invoice["id"]]


def daily_run(notifier: Notifier, as_of: dt.date) -> None:
    """The worker's daily reminder job: it queues; delivery sends later."""
    with notifier.sut.db.unit_of_work() as uow:
        run_reminders(uow, as_of)
        uow.commit()


@pytest.mark.parametrize(
    ("language", "subject", "paid"),
    [
        ("en", "Payment received: 40.00 EUR, thank you", "40.00 EUR applied, now paid in full"),
        ("el", "Λάβαμε την πληρωμή σας: 40.00 EUR, ευχαριστούμε", "εξοφλήθηκε πλήρως"),
    ],
)
def test_a_partial_payment_notice_paid_off_before_it_goes_becomes_a_receipt(
    notifier, smtp, language, subject, paid
):
    customer, invoice = issued_and_emailed(notifier, smtp, language)
    notifier.payment_applied(customer, [(invoice, "40.00")])
    assert notifier.only_notification(kind="partial_payment")["status"] == "queued"
    notifier.paid(notifier.invoices[invoice["id"]], "60.00", new_id())  # the rest, meanwhile

    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert mail.message["Subject"] == subject
    assert paid in mail.text
    assert "60.00" not in mail.text  # nothing "still due"
    (row,) = notifier.notifications(kind="payment_receipt")
    assert (row["subject"], row["status"]) == (subject, "sent")  # the history logs what went
    assert notifier.billing_requests == [f"/accounts/{customer['id']}"]  # one request


def test_a_reminder_states_what_is_due_when_it_is_sent(notifier, smtp):
    _, invoice = issued_and_emailed(notifier, smtp)
    daily_run(notifier, dt.date(2026, 3, 5))  # 4 days late: level 1 queued, 100.00 due
    notifier.paid(notifier.invoices[invoice["id"]], "30.00", new_id())  # before it goes

    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert (
        mail.message["Subject"]
        == f"Reminder: invoice {invoice['number']}, 70.00 EUR due, 4 days late"
    )
    assert "70.00 EUR are still open" in mail.text
    assert "100.00" not in mail.text


def test_a_reminder_of_an_invoice_paid_before_it_goes_is_not_sent(notifier, smtp):
    _, invoice = issued_and_emailed(notifier, smtp)
    daily_run(notifier, dt.date(2026, 3, 5))
    notifier.paid(notifier.invoices[invoice["id"]], "100.00", new_id())

    notifier.deliver()

    assert smtp.received == []
    row = notifier.only_notification(kind="reminder")
    assert row["status"] == "cancelled"
    assert row["error"] == f"not sent: invoice {invoice['number']} is paid: nothing is due"
    assert [e["data"]["kind"] for e in notifier.events(SENT) + notifier.events(FAILED)] == [
        "invoice_issued"
    ]
    assert notifier.deliver() == 0


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("en", "{number}: 100.00 EUR (75.00 EUR open on it now)"),
        ("el", "{number}: 100.00 EUR (ανοιχτό υπόλοιπο τώρα 75.00 EUR)"),
    ],
)
def test_a_reversal_states_what_each_invoice_asks_when_it_is_sent(notifier, smtp, language, line):
    customer, invoice = issued_and_emailed(notifier, smtp, language)
    payment = notifier.payment_applied(customer, [(invoice, "100.00")])["data"]["payment_id"]
    notifier.deliver()
    smtp.mailbox.received.clear()
    reopened = notifier.invoice_updated(
        notifier.invoices[invoice["id"]], amount_paid="0.00", amount_due="100.00", status="open"
    )
    reversal = {
        "payment_id": payment,
        "customer_id": customer["id"],
        "allocations": [{"invoice_id": invoice["id"], "amount": "100.00"}],
        "currency": "EUR",
        "date": "2026-03-12",
        "unapplied_amount": "0.00",
        "reason": "bounced",
    }
    notifier.feed("billing.payment.unapplied", payment, reversal, "billing")
    notifier.paid(reopened, "25.00", new_id())  # paid again in part before the notice goes

    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    for part in (mail.text, mail.html):
        assert line.format(number=invoice["number"]) in part


@pytest.mark.parametrize(
    ("language", "left"),
    [
        ("en", "14.00 EUR remain as credit on your account."),
        ("el", "Απομένουν 14.00 EUR ως πίστωση στον λογαριασμό σας."),
    ],
)
def test_a_refund_states_the_credit_left_when_it_is_sent(notifier, smtp, language, left):
    customer = notifier.customer(email="ap@acme.test", language=language)
    notifier.credit[customer["id"]] = "14.00"
    refund = {
        "id": str(uuid.uuid4()),
        "number": "REF-2026-000001",
        "customer_id": customer["id"],
        "amount": "26.00",
        "currency": "EUR",
        "method": "bank_transfer",
        "reference": "TR-991",
        "date": "2026-03-20",
        "status": "issued",
    }
    notifier.feed("payments.refund.issued", refund["id"], refund, "payments")

    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert left in mail.text
    assert left in mail.html


def test_while_billing_is_down_a_receipt_waits_and_then_goes_with_the_figures_of_then(
    notifier, smtp
):
    customer, invoice = issued_and_emailed(notifier, smtp)
    notifier.payment_applied(customer, [(invoice, "40.00")])
    forget_local("billing")

    assert notifier.deliver() == 1  # tried: billing is down

    assert smtp.received == []
    (row,) = [r for r in notifier.rows() if r.kind == "partial_payment"]
    assert (row.status, row.attempts) == ("queued", 0)
    assert row.error.startswith("waiting for its document: the billing service did not answer")
    notifier.paid(notifier.invoices[invoice["id"]], "10.00", new_id())  # meanwhile
    register_local("billing", notifier.billing_app)
    notifier.make_due()

    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert "50.00 EUR still due" in mail.text
    assert notifier.only_notification(kind="partial_payment")["status"] == "sent"


def test_the_invoice_email_takes_its_figures_and_its_pdf_from_one_request(notifier, smtp):
    customer = notifier.customer(email="ap@acme.test")
    invoice = notifier.invoice(customer, "100.00")
    notifier.invoice_updated(invoice, amount_paid="40.00", amount_due="60.00")

    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert notifier.billing_requests == [f"/invoices/{invoice['id']}"]
    (pdf,) = list(mail.message.iter_attachments())
    assert pdf.get_content() == f"%PDF-1.7 {invoice['number']} due 60.00".encode()
    assert "Total due: 60.00 EUR" in mail.text


def test_a_notice_asks_billing_without_the_invoices_payments(notifier, smtp):
    customer, invoice = issued_and_emailed(notifier, smtp)
    queries: list[str] = []

    def billing(environ, start_response):
        queries.append(environ.get("QUERY_STRING", ""))
        return notifier.billing_app(environ, start_response)

    register_local("billing", billing)
    notifier.payment_applied(customer, [(invoice, "40.00")])

    notifier.deliver()

    smtp.wait_for(1)
    assert queries == [f"invoice_id={invoice['id']}&invoice_payments=false"]


def test_a_billing_that_does_not_know_invoice_payments_is_asked_again_without_it(notifier, smtp):
    """A billing older than the parameter refuses it (422); the notice goes all the same."""
    customer, invoice = issued_and_emailed(notifier, smtp)
    queries: list[str] = []

    def older_billing(environ, start_response):
        queries.append(environ.get("QUERY_STRING", ""))
        if "invoice_payments" in environ.get("QUERY_STRING", ""):
            start_response("422 UNPROCESSABLE ENTITY", [("Content-Type", "application/json")])
            return [b'{"status": 422, "errors": {"invoice_payments": ["Unknown parameter."]}}']
        return notifier.billing_app(environ, start_response)

    register_local("billing", older_billing)
    notifier.payment_applied(customer, [(invoice, "40.00")])

    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert "60.00 EUR still due" in mail.text
    assert queries == [
        f"invoice_id={invoice['id']}&invoice_payments=false",
        f"invoice_id={invoice['id']}",
    ]
    assert notifier.only_notification(kind="partial_payment")["status"] == "sent"


def two_customers_emailed(notifier: Notifier, smtp: SmtpServer) -> tuple:
    """Two customers, each with an invoice emailed; the mailbox and billing's requests
    cleared."""
    first, one = issued_and_emailed(notifier, smtp)
    second = notifier.customer(email="ar@other.test")
    two = notifier.invoice(second, "80.00")
    notifier.deliver()
    smtp.wait_for(1)
    smtp.mailbox.received.clear()
    notifier.billing_requests.clear()
    return first, one, second, two


def test_a_round_of_notices_reads_their_accounts_in_one_request(notifier, smtp):
    first, one, second, two = two_customers_emailed(notifier, smtp)
    notifier.payment_applied(first, [(one, "30.00")])
    notifier.payment_applied(second, [(notifier.invoices[two["id"]], "25.00")])
    notifier.payment_applied(first, [(notifier.invoices[one["id"]], "10.00")])

    assert notifier.deliver() == 3

    mails = smtp.wait_for(3)
    assert notifier.billing_requests == ["/accounts"]
    # each states the figures of when the round was read: both of first's payments applied
    due = sorted(
        (m.rcpt_tos, "60.00 EUR still due" in m.text, "55.00 EUR still due" in m.text)
        for m in mails
    )
    assert due == [(["ap@acme.test"], True, False)] * 2 + [(["ar@other.test"], False, True)]
    statuses = {n["status"] for n in notifier.client().get("/notifications").get_json()["items"]}
    assert statuses == {"sent"}


def test_a_billing_without_the_list_of_accounts_is_asked_for_each(notifier, smtp):
    """A billing older than ``GET /accounts`` answers 404 (or is down for it): each notice
    asks for its own account, as before, and none waits."""
    first, one, second, two = two_customers_emailed(notifier, smtp)
    paths: list[str] = []

    def older_billing(environ, start_response):
        paths.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == "/accounts":
            start_response("404 NOT FOUND", [("Content-Type", "application/json")])
            return [b'{"status": 404}']
        return notifier.billing_app(environ, start_response)

    register_local("billing", older_billing)
    notifier.payment_applied(first, [(one, "30.00")])
    notifier.payment_applied(second, [(notifier.invoices[two["id"]], "20.00")])

    assert notifier.deliver() == 2

    smtp.wait_for(2)
    assert paths == ["/accounts", f"/accounts/{first['id']}", f"/accounts/{second['id']}"]
    assert {r.status for r in notifier.rows() if r.kind == "partial_payment"} == {"sent"}


def test_accounts_read_for_a_round_serve_its_emails_only_while_fresh():
    invoice = {"id": "i-1", "amount_due": "5.00"}
    account = {"customer_id": "c-1", "unapplied_credit": "0.00", "invoices": [invoice]}

    fresh = Accounts({"c-1": account}, time.monotonic())
    stale = Accounts({"c-1": account}, time.monotonic() - FRESH_FOR - 0.5)

    assert fresh.get("c-1", ["i-1"]) is account
    assert fresh.get("c-1", []) is account
    assert fresh.get("c-1", ["i-1", "i-2"]) is None  # not every invoice it names
    assert fresh.get("c-2", []) is None
    assert stale.get("c-1", ["i-1"]) is None


def test_a_rounds_accounts_are_asked_in_requests_of_bounded_size():
    wanted = {f"c-{n:02d}": [f"i-{n:02d}"] for n in range(30)}
    wanted["c-big"] = [f"i-big-{n}" for n in range(60)]  # cannot fit: asks for its own

    queries = [parse_qs(query) for query in _account_queries(wanted)]

    assert [len(q["customer_id"]) for q in queries] == [24, 6]
    assert all(q["invoice_payments"] == ["false"] for q in queries)
    assert [c for q in queries for c in q["customer_id"]] == [f"c-{n:02d}" for n in range(30)]
    assert [i for q in queries for i in q["invoice_id"]] == [f"i-{n:02d}" for n in range(30)]
