"""The customer is told about every change to what they owe (issue 17): a credit note (with
its PDF), a refund and a reversed payment, each once, in their language, and each reported
as notifier.notification.sent, which customers logs in the communication history."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.services.notifier_support import SENT, Notifier, SmtpServer, smtp_server
from tests.support.events import company_data


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def notifier(service_factory, smtp: SmtpServer) -> Notifier:
    notifier = Notifier(service_factory("notifier", TAMEIO_SMTP_URL=smtp.url))
    notifier.feed("billing.company.updated", "company", company_data(), "billing")
    return notifier


def credit_note(customer: dict[str, Any], invoice: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "number": "CN-2026-000001",
        "customer_id": customer["id"],
        "invoice_id": invoice["id"],
        "invoice_number": invoice["number"],
        "amount": "12.40",
        "currency": "EUR",
        "date": "2026-03-05",
        "reason": "Damaged in transit",
        "lines": [{"tax_rate": "24.00", "net_amount": "10.00", "tax_amount": "2.40"}],
        "net_total": "10.00",
        "tax_total": "2.40",
        "applied_amount": "12.40",
        "unapplied_amount": "0.00",
        "created_at": "2026-03-05T10:00:00Z",
    }


def sent_once(notifier: Notifier, smtp: SmtpServer, kind: str) -> Any:
    notifier.deliver()
    (mail,) = smtp.wait_for(1)
    assert notifier.deliver() == 0
    (row,) = notifier.notifications(kind=kind)
    assert row["status"] == "sent"
    assert [e["data"]["kind"] for e in notifier.events(SENT)].count(kind) == 1
    return mail


def test_a_credit_note_is_emailed_once_with_its_pdf(notifier, smtp):
    customer = notifier.customer(email="ap@acme.test")
    invoice = notifier.invoice(customer, "124.00")
    notifier.deliver()
    smtp.mailbox.received.clear()
    note = credit_note(customer, invoice)

    notifier.feed("billing.credit_note.issued", note["id"], note, "billing")
    notifier.feed("billing.credit_note.issued", note["id"], note, "billing")  # said again

    mail = sent_once(notifier, smtp, "credit_note")
    assert mail.message["Subject"] == "Credit note CN-2026-000001: 12.40 EUR"
    for expected in ("CN-2026-000001", invoice["number"], "Damaged in transit", "12.40 EUR"):
        assert expected in mail.text and expected in mail.html, expected
    (pdf,) = list(mail.message.iter_attachments())
    assert pdf.get_filename() == "CN-2026-000001.pdf"
    assert pdf.get_content().startswith(b"%PDF")


def test_a_greek_customer_gets_the_credit_note_in_greek(notifier, smtp):
    customer = notifier.customer(email="ap@acme.test", language="el")
    invoice = notifier.invoice(customer, "124.00")
    notifier.deliver()
    smtp.mailbox.received.clear()
    note = credit_note(customer, invoice)

    notifier.feed("billing.credit_note.issued", note["id"], note, "billing")

    mail = sent_once(notifier, smtp, "credit_note")
    assert mail.message["Subject"] == "Πιστωτικό τιμολόγιο CN-2026-000001: 12.40 EUR"
    assert "εκδώσαμε το πιστωτικό τιμολόγιο CN-2026-000001" in mail.text


@pytest.mark.parametrize(
    ("language", "subject", "says"),
    [
        ("en", "Refund: 26.00 EUR paid back to you", "we have refunded 26.00 EUR"),
        ("el", "Επιστροφή χρημάτων: 26.00 EUR", "σας επιστρέψαμε 26.00 EUR"),
    ],
)
def test_a_refund_is_emailed_once(notifier, smtp, language, subject, says):
    customer = notifier.customer(email="ap@acme.test", language=language)
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

    mail = sent_once(notifier, smtp, "refund")
    assert mail.message["Subject"] == subject
    assert says in mail.text
    assert "TR-991" in mail.text


@pytest.mark.parametrize(
    ("language", "subject", "says"),
    [
        (
            "en",
            "Payment of 800.00 EUR returned: 800.00 EUR due again",
            "your payment of 800.00 EUR was returned by the bank (bounced)",
        ),
        (
            "el",
            "Επιστροφή πληρωμής 800.00 EUR: οφείλονται ξανά 800.00 EUR",
            "η πληρωμή σας ποσού 800.00 EUR επιστράφηκε από την τράπεζα (bounced)",
        ),
    ],
)
def test_a_reversed_payment_tells_what_is_due_again_once(notifier, smtp, language, subject, says):
    customer = notifier.customer(email="ap@acme.test", language=language)
    invoice = notifier.invoice(customer, "800.00")
    applied = notifier.payment_applied(customer, [(invoice, "800.00")])
    notifier.deliver()
    smtp.mailbox.received.clear()
    payment_id = applied["data"]["payment_id"]
    unapplied = {
        "payment_id": payment_id,
        "customer_id": customer["id"],
        "allocations": [{"invoice_id": invoice["id"], "amount": "800.00"}],
        "currency": "EUR",
        "date": "2026-03-12",
        "unapplied_amount": "0.00",
        "reason": "bounced",
    }

    notifier.feed("billing.payment.unapplied", payment_id, unapplied, "billing")
    notifier.feed("billing.payment.unapplied", payment_id, unapplied, "billing")

    mail = sent_once(notifier, smtp, "payment_reversed")
    assert mail.message["Subject"] == subject
    assert says in mail.text
    assert f"{invoice['number']}: 800.00 EUR" in mail.text
    assert invoice["number"] in mail.html


def test_a_reversal_that_takes_nothing_back_sends_nothing(notifier, smtp):
    """Billing re-opened no invoice and removed no credit: no "payment of 0.00 returned"."""
    customer = notifier.customer(email="ap@acme.test")
    payment_id = str(uuid.uuid4())
    unapplied = {
        "payment_id": payment_id,
        "customer_id": customer["id"],
        "allocations": [],
        "currency": "EUR",
        "date": "2026-03-12",
        "unapplied_amount": "0.00",
        "reason": "bounced",
    }

    notifier.feed("billing.payment.unapplied", payment_id, unapplied, "billing")
    notifier.deliver()

    assert notifier.notifications() == []
    assert smtp.received == []
