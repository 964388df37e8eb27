"""Events notifier consumes: customers and invoices (replicas), and the triggers of emails:
an issued invoice, an applied payment."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from services.notifier.delivery import queue
from services.notifier.domain import payment_notice_kind
from services.notifier.models import company_replica, customer_replica, invoice_replica
from services.notifier.wording import invoice_email, language_of, render, subject
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


def payment_applied(uow: UnitOfWork, event: Event) -> None:
    """One email per payment: a receipt when every invoice it touched is paid, otherwise a
    partial-payment notice naming each invoice's remaining amount and due date."""
    data = event.raw_data
    if data.get("from_credit"):
        return  # credit used on a later invoice: that invoice's email tells the story
    if data.get("notify") is False:
        return  # a payment entered as history
    customer = _customer(uow, data["customer_id"])
    lines = []
    for allocation in data["allocations"]:
        invoice = uow.session.execute(
            select(invoice_replica).where(invoice_replica.c.id == allocation["invoice_id"])
        ).first()
        if invoice is None:
            raise NotYetKnown(f"invoice {allocation['invoice_id']} not seen yet")
        lines.append(
            {
                "number": invoice.number,
                "applied": allocation["amount"],
                "amount_due": invoice.amount_due,
                "due_date": invoice.due_date,
                "paid": Decimal(invoice.amount_due) == 0,
            }
        )
    kind = payment_notice_kind([line["amount_due"] for line in lines])
    applied = sum((Decimal(a["amount"]) for a in data["allocations"]), Decimal(0))
    amount = applied + Decimal(data["unapplied_amount"])
    zero = (
        "0." + "0" * len(data["unapplied_amount"].partition(".")[2])
        if "." in data["unapplied_amount"]
        else "0"
    )
    context = {
        "customer_name": customer.name,
        "amount": str(amount),
        "currency": data["currency"],
        "invoices": lines,
        "unapplied": data["unapplied_amount"],
        "zero": zero,
        "payment_date": data.get("date"),
    }
    open_numbers = [str(line["number"]) for line in lines if not line["paid"]]
    context["reference"] = ", ".join(open_numbers) or None
    language = language_of(customer)
    text, html = render(
        kind, context, language=language, company=company_profile(uow, company_replica)
    )
    queue(
        uow,
        cause=f"payment:{data['payment_id']}",
        kind=kind,
        customer_id=customer.id,
        to=customer.email,
        subject=subject(language, kind, amount=amount, currency=data["currency"]),
        body=text,
        body_html=html,
        payment_id=data["payment_id"],
        invoice_id=str(data["allocations"][0]["invoice_id"]) if data["allocations"] else None,
    )


def _notice(
    uow: UnitOfWork,
    customer_id: str,
    kind: str,
    cause: str,
    context: dict[str, Any],
    subject_values: dict[str, Any],
    **refs: Any,
) -> None:
    """Queue one notice of ``kind`` for ``cause`` to the customer, in their language."""
    customer = _customer(uow, customer_id)
    language = language_of(customer)
    text, html = render(
        kind,
        {"customer_name": customer.name, **context},
        language=language,
        company=company_profile(uow, company_replica),
    )
    queue(
        uow,
        cause=cause,
        kind=kind,
        customer_id=customer.id,
        to=customer.email,
        subject=subject(language, kind, **subject_values),
        body=text,
        body_html=html,
        **refs,
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
        {"note": note},
        {"number": note["number"], "amount": note["amount"], "currency": note["currency"]},
        invoice_id=note.get("invoice_id"),
    )


def refund_issued(uow: UnitOfWork, event: Event) -> None:
    """Credit on the account paid back to the customer."""
    refund = event.raw_data
    if refund.get("notify") is False:
        return
    _notice(
        uow,
        refund["customer_id"],
        "refund",
        f"refund:{refund['id']}",
        {"refund": refund},
        {"amount": refund["amount"], "currency": refund["currency"]},
    )


def payment_unapplied(uow: UnitOfWork, event: Event) -> None:
    """A reversed payment: it was returned, and what it had paid is due again. A reversal
    that took nothing back (no invoice re-opened, no credit removed) sends nothing."""
    data = event.raw_data
    invoices = []
    for allocation in data["allocations"]:
        invoice = uow.session.execute(
            select(invoice_replica.c.number).where(invoice_replica.c.id == allocation["invoice_id"])
        ).first()
        invoices.append(
            {"number": invoice.number if invoice else None, "amount": allocation["amount"]}
        )
    due_again = sum((Decimal(a["amount"]) for a in data["allocations"]), Decimal(0))
    removed = Decimal(data.get("unapplied_amount") or 0)
    if due_again == 0 and removed == 0:
        return  # nothing it paid or left as credit was taken back: nothing to tell
    amount, due = str(due_again + removed), str(due_again)
    numbers = [str(line["number"]) for line in invoices if line["number"]]
    _notice(
        uow,
        data["customer_id"],
        "payment_reversed",
        f"payment_reversed:{data['payment_id']}",
        {
            "amount": amount,
            "currency": data["currency"],
            "reason": data.get("reason"),
            "due_again": due,
            "credit_removed": str(removed),
            "invoices": invoices,
            "reference": ", ".join(numbers) or None,
        },
        {"amount": amount, "due_again": due, "currency": data["currency"]},
        payment_id=data["payment_id"],
        invoice_id=str(data["allocations"][0]["invoice_id"]) if data["allocations"] else None,
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
