"""Credit notes as documents: the one shape of a credit note, for its event, the API and
its PDF."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.billing.models import CreditNote, Invoice
from shared.db import UnitOfWork
from shared.money import exponent, from_minor


def credit_note_snapshot(uow: UnitOfWork, note: CreditNote) -> dict[str, Any]:
    """The whole credit note: amount (gross), its lines' net and tax, what it took off the
    invoice and what became account credit, and the invoice's number."""
    c = note.currency
    invoice = uow.session.get(Invoice, note.invoice_id) if note.invoice_id else None
    places = Decimal(1).scaleb(-exponent(c))
    net = sum((Decimal(line["net_amount"]) for line in note.lines), Decimal(0))
    tax = sum((Decimal(line["tax_amount"]) for line in note.lines), Decimal(0))
    return {
        "id": str(note.id),
        "number": note.number,
        "customer_id": note.customer_id,
        "invoice_id": str(note.invoice_id) if note.invoice_id else None,
        "invoice_number": invoice.number if invoice is not None else None,
        "amount": from_minor(note.amount_minor, c),
        "currency": c,
        "date": note.date,
        "reason": note.reason,
        "lines": note.lines,
        "net_total": net.quantize(places),
        "tax_total": tax.quantize(places),
        "applied_amount": from_minor(note.applied_minor, c),
        "unapplied_amount": from_minor(note.amount_minor - note.applied_minor, c),
        "notify": note.notify is not False,
        "created_at": note.created_at,
    }
