"""The invoice email never contradicts its attachment (issue 17): it is written from the
invoice as billing answers it when the email is sent (paid, credited, due), so an invoice
that account credit settled at issue says so; a discounted line shows the list price, the
discount and the net. In English and Greek."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services.notifier_support import Notifier, SmtpServer, smtp_server

CONSULTING = {
    "sku": "CONSULT",
    "description": "Consulting hour",
    "quantity": "10",
    "unit_price": "70.00",
    "discount_percent": "10.00",
    "net_amount": "630.00",
    "tax_rate": "24.00",
    "tax_amount": "151.20",
    "tax_note": None,
}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def notifier(service_factory, smtp: SmtpServer) -> Notifier:
    return Notifier(service_factory("notifier", TAMEIO_SMTP_URL=smtp.url))


def discounted_invoice(notifier: Notifier, language: str) -> dict:
    customer = notifier.customer(email="ap@acme.test", language=language)
    return notifier.invoice(
        customer, "781.20", lines=[CONSULTING], subtotal="630.00", tax_total="151.20"
    )


def test_a_discounted_line_shows_list_price_discount_and_net(notifier, smtp):
    discounted_invoice(notifier, "en")
    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert "Consulting hour: 10 x 70.00 less 10.00% discount = 630.00 net" in mail.text
    html = mail.html.replace("\r\n", "\n")
    assert "<td>70.00</td>\n<td>10.00%</td><td>630.00</td>" in html


def test_a_discounted_line_in_greek(notifier, smtp):
    discounted_invoice(notifier, "el")
    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert "Consulting hour: 10 x 70.00 μείον έκπτωση 10.00% = 630.00 καθαρή αξία" in mail.text
    assert "<td>10.00%</td>" in mail.html


@pytest.mark.parametrize(
    ("language", "settled", "subject_end"),
    [
        ("en", "This invoice is already settled: there is nothing to pay.", "already settled"),
        ("el", "Το τιμολόγιο έχει ήδη εξοφληθεί", "ήδη εξοφλημένο"),
    ],
)
def test_an_invoice_settled_by_credit_at_issue_says_so_and_asks_for_nothing(
    notifier, smtp, language, settled, subject_end
):
    """Billing announces the invoice (24.79 due) and, in the same transaction, that account
    credit paid it: the email states the figures of the moment it is sent."""
    customer = notifier.customer(email="ap@acme.test", language=language)
    invoice = notifier.invoice(customer, "24.79")
    notifier.invoice_updated(invoice, amount_paid="24.79", amount_due="0.00", status="paid")

    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert mail.message["Subject"].endswith(subject_end)
    for part in (mail.text, mail.html):
        assert settled in part
        assert "24.79 EUR, due" not in part
        assert "Total due" not in part and "Πληρωτέο ποσό" not in part
    (pdf,) = list(mail.message.iter_attachments())
    assert pdf.get_content_type() == "application/pdf"
    row = notifier.only_notification()
    assert row["subject"] == mail.message["Subject"]  # the history logs what was sent
    assert settled in row["body"]


def test_a_payment_between_queueing_and_sending_shows_in_the_email(notifier, smtp):
    customer = notifier.customer(email="ap@acme.test")
    invoice = notifier.invoice(customer, "100.00")
    notifier.invoice_updated(invoice, amount_paid="40.00", amount_due="60.00")

    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert "Paid: 40.00 EUR" in mail.text
    assert "Total due: 60.00 EUR" in mail.text
