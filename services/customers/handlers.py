"""Events the customers service consumes: what it sent is logged, documents fix the currency."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from services.customers.models import Customer, Interaction, company_replica
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.messaging import BadEvent, Event
from shared.replicas import company_replica_handler


def _known_customer(uow: UnitOfWork, customer_id: object, what: str) -> uuid.UUID:
    """Customers owns customers: an event naming one it does not have is bad data."""
    key = uuid.UUID(str(customer_id))
    if uow.session.get(Customer, key) is None:
        raise BadEvent(f"{what} names unknown customer {key}")
    return key


def log_notification(uow: UnitOfWork, event: Event) -> None:
    """notifier.notification.sent / .failed -> an interaction with source ``notifier``.

    One interaction per notification and outcome, even if notifier reports it twice.
    """
    notification = event.data
    customer_id = _known_customer(
        uow, notification["customer_id"], f"notification {notification['id']}"
    )
    failed = event.type.endswith(".failed")
    source_ref = f"notification:{notification['id']}:{'failed' if failed else 'sent'}"
    if uow.session.execute(
        select(Interaction.id).where(Interaction.source_ref == source_ref)
    ).first():
        return
    body = notification.get("body") or ""
    if failed:
        body = f"Delivery failed: {notification.get('error') or 'unknown error'}\n\n{body}"
    occurred_at = notification.get("sent_at") or notification.get("created_at") or event.occurred_at
    interaction = Interaction(
        id=uuid.uuid4(),
        customer_id=customer_id,
        channel=notification.get("channel") or "email",
        direction="outbound",
        subject=notification.get("subject"),
        body=body,
        invoice_id=notification.get("invoice_id"),
        occurred_at=occurred_at,
        source="notifier",
        author="notifier",
        source_ref=source_ref,
        created_at=utcnow(),
    )
    uow.session.add(interaction)
    uow.session.flush()
    uow.emit("customers.interaction.logged", str(interaction.id), interaction.snapshot())


def note_document(uow: UnitOfWork, event: Event) -> None:
    """An invoice, credit note or payment exists for the customer: its currency is now fixed."""
    customer_id = _known_customer(uow, event.data["customer_id"], event.type)
    uow.session.execute(
        update(Customer)
        .where(Customer.id == customer_id, Customer.has_documents.is_(False))
        .values(has_documents=True)
        .execution_options(synchronize_session=False)
    )


HANDLERS = {
    "billing.company.updated": company_replica_handler(company_replica),
    "notifier.notification.sent": log_notification,
    "notifier.notification.failed": log_notification,
    "billing.invoice.issued": note_document,
    "billing.credit_note.issued": note_document,
    "payments.payment.received": note_document,
}
