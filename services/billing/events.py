"""What billing's events carry, built from rows already loaded, with no I/O: each payload is
written once, here, and the commands only decide when to emit it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row

from services.billing.domain import OPEN_STATUSES, amount_due_minor, days_overdue
from services.billing.models import Application, CreditNote, Invoice
from shared.money import exponent, from_minor

Plan = Sequence[tuple[Any, int]]  # [(invoice id, amount in minor units)]
# A row of any shape, as a Core statement returns it.
TableRow = Row[*tuple[Any, ...]]
# An invoice or an application as the ORM loaded it, or a row of its table with the same
# column names (what the payment path's Core statements return).
InvoiceFigures = Invoice | TableRow
ApplicationFigures = Application | TableRow


def due_minor(invoice: InvoiceFigures) -> int:
    """What is left to pay on the invoice (negative if overpaid)."""
    return int(invoice.total_minor - invoice.paid_minor - invoice.credited_minor)


def allocations(plan: Plan, currency: str) -> list[dict[str, Any]]:
    return [{"invoice_id": str(i), "amount": from_minor(a, currency)} for i, a in plan]


def invoice_snapshot(
    invoice: InvoiceFigures, applications: Sequence[ApplicationFigures], as_of: dt.date
) -> dict[str, Any]:
    """The whole invoice as the API answers it and billing.invoice.issued / .updated carry
    it; ``applications`` are the invoice's active ones."""
    c = invoice.currency
    due = due_minor(invoice)
    late = days_overdue(invoice.due_date, due, as_of) if invoice.status in OPEN_STATUSES else 0
    return {
        "id": str(invoice.id),
        "number": invoice.number,
        "customer_id": invoice.customer_id,
        "status": invoice.status,
        "currency": c,
        "date": as_of,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "bill_to": invoice.bill_to,
        "contract_id": invoice.contract_id,
        "lines": invoice.lines,
        "subtotal": from_minor(invoice.subtotal_minor, c),
        "tax_total": from_minor(invoice.tax_minor, c),
        "total": from_minor(invoice.total_minor, c),
        "amount_paid": from_minor(invoice.paid_minor, c),
        "amount_credited": from_minor(invoice.credited_minor, c),
        "amount_due": from_minor(amount_due_minor(invoice.status, due), c),
        "overdue": late > 0,
        "days_overdue": late,
        "payments": [
            {
                "payment_id": a.source_id,
                "amount": from_minor(a.amount_minor, c),
                "applied_at": a.applied_at,
                "date": a.date,
            }
            for a in applications
            if a.source_kind == "payment"
        ],
        "paid_on": invoice.paid_on,
        "notify": invoice.notify is not False,
        "notes": invoice.notes,
        "void_reason": invoice.void_reason,
        "version": invoice.version,
        "created_at": invoice.created_at,
        "issued_at": invoice.issued_at,
        "voided_at": invoice.voided_at,
        "updated_at": invoice.updated_at,
    }


def invoice_snapshot_v2(invoice: InvoiceFigures, as_of: dt.date) -> dict[str, Any]:
    """billing.invoice.updated version 2: the snapshot without the payments applied, so it
    does not grow with the invoice's history (decision 81)."""
    return without_payments(invoice_snapshot(invoice, (), as_of))


def without_payments(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The version 2 form of a whole invoice snapshot (version 1)."""
    return {name: value for name, value in snapshot.items() if name != "payments"}


def invoice_settlement(
    invoice: InvoiceFigures, day: dt.date, payment_id: str | None, credit_note_id: str | None
) -> dict[str, Any]:
    """billing.invoice.paid / .partially_paid: the figures after the money that moved."""
    c = invoice.currency
    return {
        "invoice_id": str(invoice.id),
        "customer_id": invoice.customer_id,
        "amount_paid": from_minor(invoice.paid_minor, c),
        "amount_due": from_minor(amount_due_minor(invoice.status, due_minor(invoice)), c),
        "amount_credited": from_minor(invoice.credited_minor, c),
        "total": from_minor(invoice.total_minor, c),
        "currency": c,
        "date": day,
        "number": invoice.number,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "payment_id": payment_id,
        "credit_note_id": credit_note_id,
    }


def payment_applied(
    payment_id: str,
    customer_id: str,
    plan: Plan,
    *,
    unapplied_minor: int,
    currency: str,
    day: dt.date,
    from_credit: bool,
    notify: bool | None = None,
) -> dict[str, Any]:
    """billing.payment.applied: where a payment (or, ``from_credit``, its leftover credit
    used later) went, and what of it is still unapplied."""
    data = {
        "payment_id": payment_id,
        "customer_id": customer_id,
        "allocations": allocations(plan, currency),
        "unapplied_amount": from_minor(unapplied_minor, currency),
        "currency": currency,
        "date": day,
        "from_credit": from_credit,
    }
    if notify is not None:
        data["notify"] = notify
    return data


def account_balance(
    customer_id: str,
    currency: str,
    as_of: dt.date,
    *,
    balance_minor: int,
    credit_minor: int,
    open_dues: Iterable[tuple[dt.date | None, int]],
) -> dict[str, Any]:
    """The account's figures (the API's account and billing.account.balance_changed):
    ``open_dues`` is (due date, amount due) of every open invoice."""
    dues = list(open_dues)
    overdue = sum(due for day, due in dues if days_overdue(day, due, as_of) > 0)
    return {
        "customer_id": customer_id,
        "currency": currency,
        "balance": from_minor(balance_minor, currency),
        "open_total": from_minor(sum(due for _, due in dues), currency),
        "overdue_total": from_minor(overdue, currency),
        "unapplied_credit": from_minor(credit_minor, currency),
        "open_invoices": len(dues),
        "as_of": as_of,
    }


def credit_note_applied(
    credit_note_id: str,
    customer_id: str,
    plan: Plan,
    *,
    unapplied_minor: int,
    currency: str,
    day: dt.date,
) -> dict[str, Any]:
    """billing.credit_note.applied: a credit note's leftover credit used on later invoices."""
    return {
        "credit_note_id": credit_note_id,
        "customer_id": customer_id,
        "allocations": allocations(plan, currency),
        "unapplied_amount": from_minor(unapplied_minor, currency),
        "currency": currency,
        "date": day,
    }


def payment_unapplied(
    payment_id: str,
    customer_id: str,
    removed: Plan,
    *,
    unapplied_minor: int,
    currency: str,
    day: dt.date,
    reason: str | None,
) -> dict[str, Any]:
    """billing.payment.unapplied: what a reversal took off each invoice."""
    return {
        "payment_id": payment_id,
        "customer_id": customer_id,
        "allocations": allocations(removed, currency),
        "currency": currency,
        "date": day,
        "reason": reason,
        "unapplied_amount": from_minor(unapplied_minor, currency),
    }


def invoice_voided(invoice: Invoice, reason: str | None, day: dt.date) -> dict[str, Any]:
    return {
        "invoice_id": str(invoice.id),
        "customer_id": invoice.customer_id,
        "reason": reason,
        "date": day,
        "number": invoice.number,
        "total": from_minor(invoice.total_minor, invoice.currency),
        "currency": invoice.currency,
    }


def invoice_overdue(invoice: Invoice, as_of: dt.date) -> dict[str, Any]:
    return {
        "invoice_id": str(invoice.id),
        "customer_id": invoice.customer_id,
        "due_date": invoice.due_date,
        "amount_due": from_minor(invoice.due_minor, invoice.currency),
        "currency": invoice.currency,
        "as_of": as_of,
        "number": invoice.number,
        "days_overdue": days_overdue(invoice.due_date, invoice.due_minor, as_of),
    }


def credit_note_snapshot(note: CreditNote, invoice_number: str | None) -> dict[str, Any]:
    """The whole credit note, for its event, the API and its PDF: amount (gross), its lines'
    net and tax, what it took off the invoice and what became account credit."""
    c = note.currency
    places = Decimal(1).scaleb(-exponent(c))
    net = sum((Decimal(line["net_amount"]) for line in note.lines), Decimal(0))
    tax = sum((Decimal(line["tax_amount"]) for line in note.lines), Decimal(0))
    return {
        "id": str(note.id),
        "number": note.number,
        "customer_id": note.customer_id,
        "invoice_id": str(note.invoice_id) if note.invoice_id else None,
        "invoice_number": invoice_number,
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
