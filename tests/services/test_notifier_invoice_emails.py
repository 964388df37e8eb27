"""What billing's events make notifier send: one invoice email per issued invoice, one receipt
or partial-payment notice per applied payment, each delivered over real SMTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from shared.messaging.consumer import EventProcessor, Outcome
from tests.services.notifier_support import (
    APPLIED,
    ISSUED,
    SENT,
    Notifier,
    SmtpServer,
    invoice_data,
    smtp_server,
)
from tests.support.events import body_of, customer_data, envelope


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def notifier(service_factory, smtp: SmtpServer) -> Notifier:
    return Notifier(service_factory("notifier", TAMEIO_SMTP_URL=smtp.url))


# -- invoice issued ------------------------------------------------------------------------------


def test_an_issued_invoice_is_emailed_to_the_bill_to_address_with_number_total_and_due(
    notifier, smtp
):
    customer = notifier.customer(email="ap@acme.test")
    invoice = notifier.invoice(customer, "1190.00", bill_to_email="billing@acme.test")

    assert notifier.deliver() == 1

    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ["billing@acme.test"]
    assert mail.message["To"] == "billing@acme.test"
    subject = mail.message["Subject"]
    assert invoice["number"] in subject
    assert "1190.00 EUR" in subject
    assert "2026-03-01" in subject
    for part in (mail.text, mail.html):
        assert invoice["number"] in part
        assert "1190.00" in part
        assert "2026-03-01" in part
    notification = notifier.only_notification()
    assert notification["kind"] == "invoice_issued"
    assert notification["status"] == "sent"
    assert notification["sent_at"] is not None
    assert notification["error"] is None
    assert notification["to"] == "billing@acme.test"
    assert notification["invoice_id"] == invoice["id"]
    assert notification["customer_id"] == customer["id"]
    assert notification["subject"] == subject
    assert mail.message["Message-ID"]


def test_sending_the_invoice_email_publishes_notification_sent(notifier, smtp):
    customer = notifier.customer()
    invoice = notifier.invoice(customer)
    notifier.deliver()

    (event,) = notifier.events(SENT)
    assert event["source"] == "notifier"
    assert event["data"]["status"] == "sent"
    assert event["data"]["kind"] == "invoice_issued"
    assert event["data"]["invoice_id"] == invoice["id"]
    assert event["data"]["customer_id"] == customer["id"]
    assert event["data"]["subject"] == smtp.received[0].message["Subject"]
    assert event["subject"] == notifier.only_notification()["id"]


def test_without_a_bill_to_email_the_invoice_goes_to_the_customer_email(notifier, smtp):
    customer = notifier.customer(email="ap@acme.test")
    notifier.invoice(customer, bill_to_email=None)

    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ["ap@acme.test"]


def test_an_invoice_issued_before_its_customer_is_known_is_emailed_once_the_customer_arrives(
    notifier, smtp
):
    processor = EventProcessor(notifier.sut.db, notifier.sut.definition.handlers, base_delay=0.0)
    customer = customer_data(email="ap@acme.test")
    invoice = invoice_data(customer["id"], "INV-2026-000007")
    notifier.invoices[invoice["id"]] = invoice  # what billing answers when it is sent

    early = envelope(ISSUED, invoice["id"], 1, invoice, source="billing")
    assert processor.process(body_of(early)) is Outcome.RETRY
    notifier.customer(customer_id=customer["id"], email="ap@acme.test")
    assert processor.run_due_retries() == 1
    notifier.deliver()

    (mail,) = smtp.wait_for(1)
    assert "INV-2026-000007" in mail.message["Subject"]
    assert notifier.only_notification()["status"] == "sent"


def test_the_same_invoice_issued_envelope_twice_sends_one_email(notifier, smtp):
    customer = notifier.customer()
    invoice = invoice_data(customer["id"], "INV-2026-000042")
    notifier.invoices[invoice["id"]] = invoice  # what billing answers when it is sent
    issued = envelope(ISSUED, invoice["id"], 1, invoice, source="billing")

    notifier.process(issued, expect=Outcome.APPLIED)
    notifier.process(issued, expect=Outcome.DUPLICATE)
    assert notifier.deliver() == 1
    assert notifier.deliver() == 0

    assert len(smtp.received) == 1
    assert notifier.only_notification()["status"] == "sent"
    assert len(notifier.events(SENT)) == 1


def test_a_second_invoice_issued_event_for_the_same_invoice_sends_nothing_more(notifier, smtp):
    customer = notifier.customer()
    invoice = notifier.invoice(customer)
    notifier.deliver()

    again = envelope(ISSUED, invoice["id"], 1, invoice, source="billing")  # a new event id
    notifier.process(again, expect=Outcome.APPLIED)
    assert notifier.deliver() == 0

    assert len(smtp.received) == 1
    assert len(notifier.notifications()) == 1
    assert len(notifier.events(SENT)) == 1


# -- payment applied -----------------------------------------------------------------------------


def test_a_payment_that_pays_every_invoice_it_touched_sends_a_receipt(notifier, smtp):
    customer = notifier.customer(name="Acme Ltd")
    first = notifier.invoice(customer, "100.00")
    second = notifier.invoice(customer, "50.00")
    notifier.deliver()

    notifier.payment_applied(customer, [(first, "100.00"), (second, "50.00")], "25.00")
    notifier.deliver()

    receipt = notifier.only_notification(kind="payment_receipt")
    assert receipt["status"] == "sent"
    assert receipt["to"] == "ap@acme.test"
    assert notifier.notifications(kind="partial_payment") == []
    mail = smtp.wait_for(3)[-1]
    assert mail.message["Subject"] == receipt["subject"]
    assert "175.00 EUR" in mail.message["Subject"]
    for number in (first["number"], second["number"]):
        assert f"{number}: " in mail.text
    assert "paid in full" in mail.text
    assert "25.00 EUR remain as credit" in mail.text


def test_a_payment_leaving_a_balance_sends_a_partial_notice_with_each_remainder_and_due_date(
    notifier, smtp
):
    customer = notifier.customer()
    first = notifier.invoice(customer, "100.00")
    second = notifier.invoice(customer, "250.00", due_date=dt.date(2026, 4, 15))
    notifier.deliver()

    notifier.payment_applied(customer, [(first, "100.00"), (second, "50.00")])
    notifier.deliver()

    notice = notifier.only_notification(kind="partial_payment")
    assert notifier.notifications(kind="payment_receipt") == []
    mail = smtp.wait_for(3)[-1]
    assert mail.message["Subject"] == notice["subject"]
    assert "150.00 EUR" in notice["subject"]
    lines = {
        line.split(":")[0].lstrip("- "): line for line in mail.text.splitlines() if ":" in line
    }
    assert "200.00 EUR still due by 2026-04-15" in lines[second["number"]]
    assert "now paid in full" in lines[first["number"]]
    assert "200.00" in mail.html and "2026-04-15" in mail.html


def test_a_partial_payment_of_one_invoice_is_a_partial_notice(notifier, smtp):
    customer = notifier.customer()
    invoice = notifier.invoice(customer, "100.00")

    notifier.payment_applied(customer, [(invoice, "30.00")])
    notifier.deliver()

    notice = notifier.only_notification(kind="partial_payment")
    assert notice["status"] == "sent"
    assert "70.00 EUR still due by 2026-03-01" in notice["body"]


def test_a_payment_with_no_open_invoice_sends_a_receipt_naming_the_credit(notifier, smtp):
    customer = notifier.customer()

    notifier.payment_applied(customer, [], "75.00")
    notifier.deliver()

    receipt = notifier.only_notification()
    assert receipt["kind"] == "payment_receipt"
    assert receipt["status"] == "sent"
    assert "75.00 EUR remain as credit" in smtp.wait_for(1)[0].text


def test_credit_applied_to_a_later_invoice_sends_no_payment_email(notifier, smtp):
    customer = notifier.customer()
    invoice = notifier.invoice(customer, "100.00")

    notifier.payment_applied(customer, [(invoice, "100.00")], from_credit=True)
    notifier.deliver()

    assert [n["kind"] for n in notifier.notifications()] == ["invoice_issued"]
    assert len(smtp.received) == 1


def test_one_email_per_payment_however_often_billing_announces_it(notifier, smtp):
    customer = notifier.customer()
    invoice = notifier.invoice(customer, "100.00")
    applied = notifier.payment_applied(customer, [(invoice, "100.00")])

    notifier.process(applied, expect=Outcome.DUPLICATE)
    again = envelope(APPLIED, applied["subject"], 2, applied["data"], source="billing")
    notifier.process(again, expect=Outcome.APPLIED)
    notifier.deliver()
    notifier.deliver()

    assert len(notifier.notifications(kind="payment_receipt")) == 1
    assert len(smtp.received) == 2  # the invoice email and the one receipt
    assert len(notifier.events(SENT)) == 2
