"""Every email is a proper message from the company (issue 17): sent from the company
profile's name and email with its Reply-To, dated, with a Message-ID, text and HTML parts,
signed with the seller and how to pay, in the customer's language (English or Greek)."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import pytest

from tests.services.notifier_support import Notifier, SmtpServer, smtp_server
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


def test_the_invoice_email_comes_from_the_company_with_reply_to_date_and_both_parts(notifier, smtp):
    customer = notifier.customer(email="ap@acme.test")
    invoice = notifier.invoice(customer, "124.00")
    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    message = mail.message
    assert message["From"].addresses[0].display_name == "Tameio Demo ΑΕ"
    assert message["From"].addresses[0].addr_spec == "accounts@demo.test"
    assert mail.mail_from == "accounts@demo.test"
    assert message["Reply-To"] == "help@demo.test"
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message["Message-ID"].endswith("@demo.test>")  # the company's email domain
    for part in (mail.text, mail.html):
        for expected in (
            "Tameio Demo ΑΕ",
            "Λεωφόρος Κηφισίας 44, 11526 Αθήνα, GR",
            "VAT number: EL999888777",
            "accounts@demo.test",
            "IBAN GR1601101250000000012300695",
            "BIC ETHNGRAA",
            f"quoting {invoice['number']}",
            "Bank transfer within the due date.",
            "Kind regards",
        ):
            assert expected in part, expected


def test_a_greek_customer_gets_the_invoice_email_in_greek(notifier, smtp):
    customer = notifier.customer(email="ap@acme.test", language="el")
    invoice = notifier.invoice(customer, "124.00")
    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert mail.message["Subject"].startswith(f"Τιμολόγιο {invoice['number']}: 124.00 EUR")
    for part in (mail.text, mail.html):
        for expected in (
            "Αγαπητέ πελάτη",
            "Πληρωτέο ποσό",
            f"με αιτιολογία {invoice['number']}",
            "ΑΦΜ: EL999888777",
            "Με εκτίμηση",
        ):
            assert expected in part, expected
        assert "Kind regards" not in part


def test_a_greek_customer_gets_the_receipt_in_greek(notifier, smtp):
    customer = notifier.customer(email="ap@acme.test", language="el")
    invoice = notifier.invoice(customer, "124.00")
    notifier.deliver()
    notifier.payment_applied(customer, [(invoice, "124.00")])
    notifier.deliver()

    mails = smtp.wait_for(2)
    receipt = mails[-1]
    assert receipt.message["Subject"] == "Λάβαμε την πληρωμή σας: 124.00 EUR, ευχαριστούμε"
    assert "εξοφλήθηκε πλήρως" in receipt.text
    assert "Με εκτίμηση" in receipt.html


def test_before_any_profile_emails_come_from_the_placeholder_sender(service_factory, smtp):
    notifier = Notifier(
        service_factory(
            "notifier", TAMEIO_SMTP_URL=smtp.url, TAMEIO_PUBLIC_URL="https://ar.example.test"
        )
    )
    notifier.invoice(notifier.customer(), "10.00")
    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert mail.message["From"].addresses[0].addr_spec == "receivables@tameio.invalid"
    assert mail.message["Reply-To"] is None
    assert mail.message["Date"]
    assert mail.message["Message-ID"].endswith("@ar.example.test>")  # the configured host


def test_a_profile_set_while_an_email_waits_gives_its_message_id(service_factory, smtp):
    notifier = Notifier(service_factory("notifier", TAMEIO_SMTP_URL=smtp.url))
    notifier.invoice(notifier.customer(), "10.00")
    notifier.feed("billing.company.updated", "company", company_data(), "billing")

    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert mail.message["Message-ID"].endswith("@demo.test>")
    assert notifier.rows()[0].message_id == mail.message["Message-ID"]
