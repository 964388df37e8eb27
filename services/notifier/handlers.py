"""Events notifier consumes: customers and invoices (replicas), and the triggers of emails:
an issued invoice, an applied payment."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from services.notifier.delivery import queue
from services.notifier.models import company_replica, customer_replica, invoice_replica
from services.notifier.notices import Reader, write
from services.notifier.wording import invoice_email, language_of
from shared.db import UnitOfWork
from shared.messaging import Event, NotYetKnown
from shared.replicas import (
    company_profile,
    company_replica_handler,
    customer_replica_handlers,
    invoice_replica_handler,
)

invoice_changed = invoice_replica_handler(invoice_replica)


def _customer(uow: UnitOfWork, customer_id: str) -> Any:
    row = uow.session.execute(
        select(customer_replica).where(customer_replica.c.id == customer_id)
    ).first()
    if row is None:
        raise NotYetKnown(f"customer {customer_id} not seen yet")
    return row


def invoice_issued(uow: UnitOfWork, event: Event) -> None:
    """The invoice email to the bill-to address, in the customer's language; it is written
    anew from billing's answer when it is sent (documents.py), so what is queued here is
    what the invoice said at issue."""
    invoice_changed(uow, event)
    invoice = event.raw_data
    if invoice.get("notify") is False:
        return  # entered as history: the customer had it long ago
    customer = _customer(uow, invoice["customer_id"])
    to = (invoice.get("bill_to") or {}).get("email") or customer.email
    subject_line, text, html = invoice_email(
        invoice, language_of(customer), company_profile(uow, company_replica)
    )
    queue(
        uow,
        cause=f"invoice_issued:{invoice['id']}",
        kind="invoice_issued",
        customer_id=customer.id,
        to=to,
        subject=subject_line,
        body=text,
        body_html=html,
        invoice_id=invoice["id"],
    )


def _invoices(uow: UnitOfWork, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The invoices (as their replicas last heard) by id; NotYetKnown for one not seen."""
    found = {
        row.id: dict(row.snapshot)
        for row in uow.session.execute(
            select(invoice_replica.c.id, invoice_replica.c.snapshot).where(
                invoice_replica.c.id.in_(ids)
            )
        )
    }
    for invoice_id in ids:
        if invoice_id not in found:
            raise NotYetKnown(f"invoice {invoice_id} not seen yet")
    return found


def _notice(
    uow: UnitOfWork,
    customer_id: str,
    kind: str,
    cause: str,
    facts: dict[str, Any],
    invoices: dict[str, dict[str, Any]] | None = None,
    **refs: Any,
) -> None:
    """Queue one notice of ``kind`` for ``cause`` to the customer, in their language,
    written from ``facts`` and the invoices as replicated now; ``facts`` are kept so that
    it is written again from billing's figures when it is sent."""
    customer = _customer(uow, customer_id)
    reader = Reader(customer.name, language_of(customer), company_profile(uow, company_replica))
    written = write(kind, facts, invoices or {}, None, reader)
    queue(
        uow,
        cause=cause,
        kind=written.kind,
        customer_id=customer.id,
        to=customer.email,
        subject=written.subject,
        body=written.text,
        body_html=written.html,
        facts=facts,
        **refs,
    )


def payment_applied(uow: UnitOfWork, event: Event) -> None:
    """One email per payment: a receipt when every invoice it touched is paid, otherwise a
    partial-payment notice naming each invoice's remaining amount and due date."""
    data = event.raw_data
    if data.get("from_credit"):
        return  # credit used on a later invoice: that invoice's email tells the story
    if data.get("notify") is False:
        return  # a payment entered as history
    ids = [str(a["invoice_id"]) for a in data["allocations"]]
    _notice(
        uow,
        data["customer_id"],
        "payment_receipt",
        f"payment:{data['payment_id']}",
        data,
        _invoices(uow, ids),
        payment_id=data["payment_id"],
        invoice_id=ids[0] if ids else None,
    )


def credit_note_issued(uow: UnitOfWork, event: Event) -> None:
    """The credit note, its PDF attached when it is sent."""
    note = event.raw_data
    if note.get("notify") is False:
        return
    _notice(
        uow,
        note["customer_id"],
        "credit_note",
        f"credit_note:{note['id']}",
        note,
        invoice_id=note.get("invoice_id"),
    )


def refund_issued(uow: UnitOfWork, event: Event) -> None:
    """Credit on the account paid back to the customer."""
    refund = event.raw_data
    if refund.get("notify") is False:
        return
    _notice(uow, refund["customer_id"], "refund", f"refund:{refund['id']}", refund)


def payment_unapplied(uow: UnitOfWork, event: Event) -> None:
    """A reversed payment: it was returned, and what it had paid is due again. A reversal
    that took nothing back (no invoice re-opened, no credit removed) sends nothing."""
    data = event.raw_data
    due_again = sum((Decimal(a["amount"]) for a in data["allocations"]), Decimal(0))
    if due_again == 0 and Decimal(data.get("unapplied_amount") or 0) == 0:
        return  # nothing it paid or left as credit was taken back: nothing to tell
    ids = [str(a["invoice_id"]) for a in data["allocations"]]
    known = {
        row.id: dict(row.snapshot)
        for row in uow.session.execute(
            select(invoice_replica.c.id, invoice_replica.c.snapshot).where(
                invoice_replica.c.id.in_(ids)
            )
        )
    }
    _notice(
        uow,
        data["customer_id"],
        "payment_reversed",
        f"payment_reversed:{data['payment_id']}",
        data,
        known,
        payment_id=data["payment_id"],
        invoice_id=ids[0] if ids else None,
    )


HANDLERS = {
    **customer_replica_handlers(customer_replica),
    "billing.company.updated": company_replica_handler(company_replica),
    "billing.invoice.issued": invoice_issued,
    "billing.invoice.updated": invoice_changed,
    "billing.payment.applied": payment_applied,
    "billing.payment.unapplied": payment_unapplied,
    "billing.credit_note.issued": credit_note_issued,
    "payments.refund.issued": refund_issued,
}
