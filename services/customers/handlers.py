"""Events the customers service consumes: what it sent is logged, documents fix the currency."""

from __future__ import annotations

from services.customers import commands
from services.customers.models import company_replica
from shared.db import UnitOfWork
from shared.messaging import Event
from shared.replicas import company_replica_handler


def log_notification(uow: UnitOfWork, event: Event) -> None:
    """notifier.notification.sent / .failed -> an interaction with source ``notifier``."""
    commands.log_notification(
        uow, event.data, failed=event.type.endswith(".failed"), reported_at=event.occurred_at
    )


def note_document(uow: UnitOfWork, event: Event) -> None:
    """billing.invoice.issued, billing.credit_note.issued, payments.payment.received: the
    customer has a document, so its currency is now fixed."""
    commands.note_document(uow, event.data["customer_id"], event.type)


HANDLERS = {
    "billing.company.updated": company_replica_handler(company_replica),
    "notifier.notification.sent": log_notification,
    "notifier.notification.failed": log_notification,
    "billing.invoice.issued": note_document,
    "billing.credit_note.issued": note_document,
    "payments.payment.received": note_document,
}
