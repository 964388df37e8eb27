"""Events the customers service consumes: notifier's deliveries join the history."""

from __future__ import annotations

import uuid

from services.customers.models import Customer, Interaction
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.messaging import BadEvent, Event


def log_notification(uow: UnitOfWork, event: Event) -> None:
    """notifier.notification.sent / .failed -> an interaction with source ``notifier``."""
    notification = event.data
    customer_id = uuid.UUID(str(notification["customer_id"]))
    if uow.session.get(Customer, customer_id) is None:
        raise BadEvent(f"notification {notification['id']} names unknown customer {customer_id}")
    failed = event.type.endswith(".failed")
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
        created_at=utcnow(),
    )
    uow.session.add(interaction)
    uow.session.flush()
    uow.emit("customers.interaction.logged", str(interaction.id), interaction.snapshot())


HANDLERS = {
    "notifier.notification.sent": log_notification,
    "notifier.notification.failed": log_notification,
}
