"""Events notifier consumes: customers, invoices and the company profile (replicas), and the
triggers of emails: an issued invoice, an applied or reversed payment, a credit note, a
refund. Each handler reads the event and calls one command."""

from __future__ import annotations

from services.notifier import commands
from services.notifier.models import company_replica, customer_replica, invoice_replica
from shared.db import UnitOfWork
from shared.messaging import Event
from shared.messaging.consumer import handles_versions
from shared.replicas import (
    company_replica_handler,
    customer_replica_handlers,
    invoice_replica_handler,
)

invoice_changed = invoice_replica_handler(invoice_replica)


def invoice_issued(uow: UnitOfWork, event: Event) -> None:
    """The invoices replica, then the invoice email."""
    invoice_changed(uow, event)
    commands.queue_invoice_email(uow, event.raw_data)


def payment_applied(uow: UnitOfWork, event: Event) -> None:
    commands.queue_payment_notice(uow, event.raw_data)


def payment_unapplied(uow: UnitOfWork, event: Event) -> None:
    commands.queue_reversal_notice(uow, event.raw_data)


def credit_note_issued(uow: UnitOfWork, event: Event) -> None:
    commands.queue_credit_note_notice(uow, event.raw_data)


def refund_issued(uow: UnitOfWork, event: Event) -> None:
    commands.queue_refund_notice(uow, event.raw_data)


HANDLERS = {
    **customer_replica_handlers(customer_replica),
    "billing.company.updated": company_replica_handler(company_replica),
    "billing.invoice.issued": invoice_issued,
    # Version 2 only: billing publishes it with every change, and version 1 beside it
    # only for outside subscribers; handling both did every update twice (decision 87).
    "billing.invoice.updated": handles_versions(2)(invoice_replica_handler(invoice_replica)),
    "billing.payment.applied": payment_applied,
    "billing.payment.unapplied": payment_unapplied,
    "billing.credit_note.issued": credit_note_issued,
    "payments.refund.issued": refund_issued,
}
