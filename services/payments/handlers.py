"""Events payments consumes: customers and open invoices (to validate payments), how billing
applied each payment, and each customer's credit (to bound refunds)."""

from __future__ import annotations

from services.payments import commands
from services.payments.domain import reported_allocations
from services.payments.models import customer_replica, invoice_replica
from shared.db import UnitOfWork
from shared.messaging import Event
from shared.messaging.consumer import handles_versions
from shared.replicas import customer_replica_handlers, invoice_replica_handler


def payment_applied(uow: UnitOfWork, event: Event) -> None:
    """How billing applied the payment: its allocations, later uses of its leftover credit."""
    data = event.data
    commands.record_application(
        uow,
        data["payment_id"],
        reported_allocations(data),
        data["unapplied_amount"],
        sequence=event.sequence,
        from_credit=bool(data.get("from_credit")),
    )


def payment_unapplied(uow: UnitOfWork, event: Event) -> None:
    commands.record_unapplication(uow, event.data["payment_id"], event.sequence)


def balance_changed(uow: UnitOfWork, event: Event) -> None:
    """Billing's credit for the customer; a refund it was caused by is now reflected in it."""
    commands.record_credit(
        uow, event.raw_data, event.data["unapplied_credit"], event.sequence, event.causation_id
    )


HANDLERS = {
    **customer_replica_handlers(customer_replica),
    "billing.invoice.issued": invoice_replica_handler(invoice_replica),
    # Version 2 only: billing publishes it with every change, and version 1 beside it
    # only for outside subscribers; handling both did every update twice (decision 87).
    "billing.invoice.updated": handles_versions(2)(invoice_replica_handler(invoice_replica)),
    "billing.payment.applied": payment_applied,
    "billing.payment.unapplied": payment_unapplied,
    "billing.account.balance_changed": balance_changed,
}
