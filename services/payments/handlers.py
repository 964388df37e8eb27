"""Events payments consumes: customers and open invoices (to validate payments), how billing
applied each payment, and each customer's credit (to bound refunds)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update

from services.payments.models import (
    Payment,
    Refund,
    credit_replica,
    customer_replica,
    invoice_replica,
)
from shared.db import UnitOfWork
from shared.messaging import BadEvent, Event
from shared.money import to_minor
from shared.replicas import apply_snapshot, customer_replica_handlers, invoice_replica_handler


def _payment(uow: UnitOfWork, payment_id: Any) -> Payment:
    payment = uow.session.execute(
        select(Payment).where(Payment.id == uuid.UUID(str(payment_id))).with_for_update()
    ).scalar_one_or_none()
    if payment is None:
        raise BadEvent(f"billing reports payment {payment_id}, which payments never recorded")
    return payment


def _allocations(data: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"invoice_id": str(a["invoice_id"]), "amount": str(a["amount"])}
        for a in data["allocations"]
    ]


def payment_applied(uow: UnitOfWork, event: Event) -> None:
    """How billing applied the payment: its allocations, later uses of its leftover credit."""
    data = event.data
    payment = _payment(uow, data["payment_id"])
    if data.get("from_credit"):
        payment.allocations = [*payment.allocations, *_allocations(data)]
    else:
        payment.allocations = _allocations(data) + list(payment.allocations)
    if event.sequence > payment.applied_sequence:  # events may arrive out of order
        payment.unapplied_minor = to_minor(data["unapplied_amount"], payment.currency)
        payment.applied_sequence = event.sequence
    if payment.status == "received":
        payment.status = "applied"


def payment_unapplied(uow: UnitOfWork, event: Event) -> None:
    payment = _payment(uow, event.data["payment_id"])
    payment.allocations, payment.unapplied_minor = [], 0
    payment.applied_sequence = max(payment.applied_sequence, event.sequence)


def balance_changed(uow: UnitOfWork, event: Event) -> None:
    """Billing's credit for the customer; a refund it was caused by is now reflected in it."""
    data = event.raw_data
    apply_snapshot(
        uow,
        credit_replica,
        data["customer_id"],
        event.sequence,
        {
            "currency": data["currency"],
            "unapplied_credit_minor": to_minor(event.data["unapplied_credit"], data["currency"]),
            "snapshot": data,
        },
    )
    if event.causation_id:
        uow.session.execute(
            update(Refund).where(Refund.event_id == event.causation_id).values(reflected=True)
        )


HANDLERS = {
    **customer_replica_handlers(customer_replica),
    "billing.invoice.issued": invoice_replica_handler(invoice_replica),
    "billing.invoice.updated": invoice_replica_handler(invoice_replica),
    "billing.payment.applied": payment_applied,
    "billing.payment.unapplied": payment_unapplied,
    "billing.account.balance_changed": balance_changed,
}
