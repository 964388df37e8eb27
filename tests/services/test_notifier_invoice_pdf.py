"""The invoice email carries the invoice PDF; while billing is down it waits for it (never
sent without it)."""

from __future__ import annotations

import email
import email.policy
import uuid

import pytest
from sqlalchemy import update

from services.notifier.delivery import deliver_due
from services.notifier.models import Notification
from shared.clock import utcnow
from shared.messaging.consumer import EventProcessor
from shared.web.client import forget_local, register_local
from tests.support.events import body_of, customer_data, envelope
from tests.support.realmode import free_port


@pytest.fixture
def issued(service_factory, tmp_path):
    """An invoice issued by billing, its billing.invoice.issued event fed to notifier."""
    billing = service_factory("billing")
    notifier = service_factory(
        "notifier",
        TAMEIO_DATA_DIR=str(tmp_path),
        TAMEIO_BILLING_URL=f"http://127.0.0.1:{free_port()}",
    )
    customer_id = str(uuid.uuid4())
    customer = body_of(
        envelope("customers.customer.created", customer_id, 1, customer_data(customer_id))
    )
    item = {
        "sku": "S",
        "name": "Consulting",
        "unit_price": "80.00",
        "currency": "EUR",
        "tax_code": "standard",
    }
    EventProcessor(billing.db, billing.definition.handlers).process(customer)
    EventProcessor(billing.db, billing.definition.handlers).process(
        body_of(envelope("contracts.item.created", "S", 1, item, source="contracts"))
    )
    invoice = (
        billing.client(role="clerk")
        .post(
            "/invoices", json={"customer_id": customer_id, "lines": [{"sku": "S", "quantity": 2}]}
        )
        .get_json()
    )
    feed = EventProcessor(notifier.db, notifier.definition.handlers)
    feed.process(customer)
    (issued_event,) = [
        r.payload for r in billing.outbox() if r.event_type == "billing.invoice.issued"
    ]
    feed.process(issued_event)
    yield billing, notifier, invoice, tmp_path
    forget_local("billing")


def delivered(notifier, folder) -> email.message.EmailMessage:
    assert deliver_due(notifier.db, notifier.settings) == 1
    (path,) = (folder / "mail").glob("*.eml")
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_the_invoice_email_carries_the_invoice_pdf(issued):
    billing, notifier, invoice, folder = issued
    register_local("billing", billing.app.wsgi_app)

    message = delivered(notifier, folder)

    (pdf,) = [
        part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"
    ]
    assert pdf.get_filename() == f"{invoice['number']}.pdf"
    assert pdf.get_content().startswith(b"%PDF")


def test_with_billing_down_the_invoice_email_waits_and_goes_with_its_pdf_once_billing_is_back(
    issued,
):
    billing, notifier, invoice, folder = issued

    assert deliver_due(notifier.db, notifier.settings) == 1  # tried: billing is down

    assert list((folder / "mail").glob("*.eml")) == []
    (row,) = [dict(r._mapping) for r in notifier.rows(Notification.__table__)]
    assert row["status"] == "queued"
    assert row["attempts"] == 0
    assert row["error"].startswith("waiting for its document")
    with notifier.db.engine.begin() as conn:  # its wait is over
        conn.execute(update(Notification).values(next_attempt_at=utcnow()))
    register_local("billing", billing.app.wsgi_app)

    message = delivered(notifier, folder)

    (pdf,) = list(message.iter_attachments())
    assert pdf.get_filename() == f"{invoice['number']}.pdf"
