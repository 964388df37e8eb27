"""Delivery of notifications: retries while SMTP is down, failed for good after five
attempts, a crash mid-send resent with the same Message-ID, and .eml files when no SMTP
server is configured."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import threading
from typing import Any

from sqlalchemy import update

from services.notifier.domain import MAX_ATTEMPTS
from services.notifier.models import Notification
from shared.clock import utcnow
from tests.services.notifier_support import (
    FAILED,
    SENT,
    Notifier,
    closed_port_url,
    smtp_server,
)
from tests.support.harness import wait_until
from tests.support.realmode import free_port


def make_notifier(service_factory, **settings: str) -> Notifier:
    return Notifier(service_factory("notifier", **settings))


def one_invoice_email(notifier: Notifier, **customer: Any) -> dict[str, Any]:
    """A customer and one issued invoice: one invoice email queued. Returns the invoice."""
    return dict(notifier.invoice(notifier.customer(**customer)))


def set_status(notifier: Notifier, status: str, **values: Any) -> None:
    with notifier.sut.db.engine.begin() as conn:
        conn.execute(update(Notification).values(status=status, **values))


# -- SMTP down -----------------------------------------------------------------------------------


def test_while_smtp_is_down_the_email_stays_queued_with_the_error_and_one_attempt(
    service_factory,
):
    notifier = make_notifier(service_factory, TAMEIO_SMTP_URL=closed_port_url())
    one_invoice_email(notifier)

    assert notifier.deliver() == 1

    notification = notifier.only_notification()
    assert notification["status"] == "queued"
    assert notification["attempts"] == 1
    assert "refused" in notification["error"].lower()
    assert notification["sent_at"] is None
    (row,) = notifier.rows()
    assert row.next_attempt_at > utcnow(), "the retry waits"
    assert notifier.deliver() == 0, "nothing is due before the retry time"
    assert notifier.events(SENT) == [] and notifier.events(FAILED) == []


def test_after_five_failed_attempts_the_email_is_failed_and_notification_failed_published(
    service_factory,
):
    notifier = make_notifier(service_factory, TAMEIO_SMTP_URL=closed_port_url())
    invoice = one_invoice_email(notifier)

    notifier.deliver()
    waits = [notifier.rows()[0].next_attempt_at - utcnow()]
    for attempt in range(2, MAX_ATTEMPTS):
        notifier.make_due()
        assert notifier.deliver() == 1
        notification = notifier.only_notification()
        assert (notification["status"], notification["attempts"]) == ("queued", attempt)
        waits.append(notifier.rows()[0].next_attempt_at - utcnow())
    assert waits == sorted(waits), "each retry waits longer"
    notifier.make_due()
    assert notifier.deliver() == 1

    failed = notifier.only_notification()
    assert MAX_ATTEMPTS == 5
    assert failed["status"] == "failed"
    assert failed["attempts"] == 5
    assert "refused" in failed["error"].lower()
    assert notifier.only_notification(status="failed")["id"] == failed["id"]
    (event,) = notifier.events(FAILED)
    assert event["subject"] == failed["id"]
    assert event["data"]["status"] == "failed"
    assert event["data"]["error"] == failed["error"]
    assert event["data"]["invoice_id"] == invoice["id"]
    assert notifier.events(SENT) == []
    notifier.make_due()
    assert notifier.deliver() == 0, "a failed email is not tried again"


def test_smtp_down_then_up_sends_the_email_exactly_once(service_factory):
    port = free_port()
    notifier = make_notifier(service_factory, TAMEIO_SMTP_URL=f"smtp://127.0.0.1:{port}")
    one_invoice_email(notifier)
    notifier.deliver()
    assert notifier.only_notification()["status"] == "queued"

    with smtp_server(port) as smtp:
        notifier.make_due()
        assert notifier.deliver() == 1
        notifier.make_due()
        assert notifier.deliver() == 0

        assert len(smtp.wait_for(1)) == 1
    notification = notifier.only_notification()
    assert notification["status"] == "sent"
    assert notification["attempts"] == 2
    assert notification["error"] is None
    assert len(notifier.events(SENT)) == 1
    assert notifier.events(FAILED) == []


def test_an_email_to_a_customer_without_an_address_fails_at_once(service_factory):
    with smtp_server() as smtp:
        notifier = make_notifier(service_factory, TAMEIO_SMTP_URL=smtp.url)
        notifier.invoice(notifier.customer(email=None), bill_to_email=None)

        assert notifier.deliver() == 0  # recorded failed when it was queued: nothing to send

        notification = notifier.only_notification()
        assert notification["status"] == "failed"
        assert notification["to"] is None
        assert notification["attempts"] == 1
        assert notification["error"] == "the customer has no email address"
        (event,) = notifier.events(FAILED)
        assert event["data"]["error"] == "the customer has no email address"
        notifier.make_due()
        assert notifier.deliver() == 0
        assert smtp.received == []


# -- crashes and concurrency ---------------------------------------------------------------------


def test_an_email_left_sending_by_a_crash_is_sent_again_with_the_same_message_id(
    service_factory,
):
    with smtp_server() as smtp:
        notifier = make_notifier(service_factory, TAMEIO_SMTP_URL=smtp.url)
        one_invoice_email(notifier)
        notifier.deliver()
        (first,) = smtp.wait_for(1)
        # The process died after SMTP took the message, before 'sent' was committed, and
        # its lease on the row has run out since.
        set_status(
            notifier, "sending", sent_at=None, next_attempt_at=utcnow() - dt.timedelta(seconds=1)
        )

        assert notifier.deliver() == 1

        second = smtp.wait_for(2)[1]
    (row,) = notifier.rows()
    assert first.message["Message-ID"] == row.message_id
    assert second.message["Message-ID"] == row.message_id
    assert second.message["Subject"] == first.message["Subject"]
    assert row.status == "sent"
    assert notifier.deliver() == 0


def test_an_email_being_sent_is_not_sent_again_by_a_concurrent_delivery(service_factory):
    """The worker's delivery loop and a reminder run's delivery (in the web process) may run
    at the same time; only a crash may repeat an email."""
    with smtp_server(delay=1.0) as smtp:
        notifier = make_notifier(service_factory, TAMEIO_SMTP_URL=smtp.url)
        one_invoice_email(notifier)
        worker_loop = threading.Thread(target=notifier.deliver)
        worker_loop.start()
        wait_until(lambda: notifier.rows()[0].status == "sending", what="the send to start")

        tried = notifier.deliver()

        worker_loop.join(10)
        smtp.wait_for(1)
        assert len(smtp.received) == 1, "the email being sent was picked up and sent again"
        assert tried == 0
        assert len(notifier.events(SENT)) == 1
        assert notifier.only_notification()["attempts"] == 1


# -- embedded mode: .eml files -------------------------------------------------------------------


def test_without_an_smtp_url_emails_are_written_as_eml_files_with_text_and_html(
    service_factory, tmp_path
):
    notifier = make_notifier(service_factory, TAMEIO_DATA_DIR=str(tmp_path))
    assert notifier.sut.settings.smtp_url is None
    assert notifier.sut.settings.data_dir == tmp_path
    invoice = one_invoice_email(notifier, email="ap@acme.test")

    assert notifier.deliver() == 1

    (path,) = (tmp_path / "mail").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    (row,) = notifier.rows()
    assert message["Message-ID"] == row.message_id
    assert message["To"] == "billing@acme.test"
    assert message["From"]
    assert message["Subject"] == row.subject
    assert message.get_content_type() == "multipart/mixed"  # text and HTML, then the PDF
    assert [p.get_content_type() for p in message.iter_attachments()] == ["application/pdf"]
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert invoice["number"] in text.get_content()
    assert f"<strong>{invoice['number']}</strong>" in html.get_content()
    assert notifier.only_notification()["status"] == "sent"
    assert len(notifier.events(SENT)) == 1


def test_each_eml_email_is_its_own_file(service_factory, tmp_path):
    notifier = make_notifier(service_factory, TAMEIO_DATA_DIR=str(tmp_path))
    customer = notifier.customer()
    first = notifier.invoice(customer)
    notifier.payment_applied(customer, [(first, "100.00")])

    assert notifier.deliver() == 2

    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2
    subjects = {
        email.message_from_bytes(f.read_bytes(), policy=email.policy.default)["Subject"]
        for f in files
    }
    assert subjects == {n["subject"] for n in notifier.notifications()}
