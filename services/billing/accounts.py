"""Billing's state changes, each inside the caller's unit of work with the customer's
account row locked: issuing invoices, applying payments and credit, credit notes,
reversals, refunds. Every change writes its ledger entry and its events in the same
transaction, so for every customer at every moment

    balance = sum of ledger entries = open invoices' amounts due - unapplied credit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, func, select

from services.billing.credit_notes import credit_note_snapshot
from services.billing.domain import OpenInvoice, days_overdue, invoice_status, plan_allocations
from services.billing.models import (
    Account,
    Application,
    CreditSource,
    Invoice,
    LedgerEntry,
    ReceivedPayment,
)
from shared.clock import today, utcnow
from shared.db import UnitOfWork, insert_if_absent
from shared.money import from_minor

OPEN_STATUSES = ("open", "partially_paid")


def money(minor: int, currency: str) -> Decimal:
    return from_minor(minor, currency)


def lock_account(uow: UnitOfWork, customer_id: str, currency: str) -> Account:
    """The customer's account row, locked for this transaction (created on first use; the
    first movements of a new customer racing each other all find the row)."""
    locked = select(Account).where(Account.customer_id == customer_id).with_for_update()
    account = uow.session.execute(locked).scalar_one_or_none()
    if account is not None:
        return account
    insert_if_absent(
        uow.session,
        cast(Table, Account.__table__),
        {
            "customer_id": customer_id,
            "currency": currency,
            "unapplied_credit_minor": 0,
            "updated_at": utcnow(),
        },
    )
    return uow.session.execute(locked).scalar_one()


def post(
    uow: UnitOfWork,
    customer_id: str,
    day: dt.date,
    kind: str,
    reference: str,
    amount_minor: int,
    invoice_id: str | None = None,
    payment_id: str | None = None,
) -> None:
    """Append one ledger entry (+ raises what the customer owes)."""
    uow.session.add(
        LedgerEntry(
            customer_id=customer_id,
            date=day,
            type=kind,
            reference=reference,
            amount_minor=amount_minor,
            invoice_id=invoice_id,
            payment_id=payment_id,
            created_at=utcnow(),
        )
    )


# -- reading ------------------------------------------------------------------------------


def active_applications(uow: UnitOfWork, invoice_id: uuid.UUID) -> list[Application]:
    return list(
        uow.session.execute(
            select(Application)
            .where(Application.invoice_id == invoice_id, Application.removed_at.is_(None))
            .order_by(Application.id)
        ).scalars()
    )


def invoice_snapshot(
    uow: UnitOfWork,
    invoice: Invoice,
    as_of: dt.date | None = None,
    *,
    applications: list[Application] | None = None,
) -> dict[str, Any]:
    """The whole invoice as the API answers and events carry it; ``applications`` are its
    active ones when the caller loaded them already (a page of invoices)."""
    if applications is None:
        applications = active_applications(uow, invoice.id)
    as_of = as_of or today()
    c = invoice.currency
    late = (
        days_overdue(invoice.due_date, invoice.due_minor, as_of)
        if invoice.status in OPEN_STATUSES
        else 0
    )
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
        "subtotal": money(invoice.subtotal_minor, c),
        "tax_total": money(invoice.tax_minor, c),
        "total": money(invoice.total_minor, c),
        "amount_paid": money(invoice.paid_minor, c),
        "amount_credited": money(invoice.credited_minor, c),
        "amount_due": money(0 if invoice.status == "void" else max(invoice.due_minor, 0), c),
        "overdue": late > 0,
        "days_overdue": late,
        "payments": [
            {
                "payment_id": a.source_id,
                "amount": money(a.amount_minor, c),
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


def account_summary(
    uow: UnitOfWork,
    customer_id: str,
    currency: str,
    as_of: dt.date,
    candidates: Sequence[Invoice] | None = None,
) -> dict[str, Any]:
    """The account's figures. ``candidates``: every invoice of the customer that can be
    open, already loaded in this transaction (saves reading them again)."""
    balance = uow.session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.customer_id == customer_id
        )
    ).scalar_one()
    loaded: Iterable[Invoice] = (
        candidates
        if candidates is not None
        else uow.session.execute(
            select(Invoice).where(
                Invoice.customer_id == customer_id, Invoice.status.in_(OPEN_STATUSES)
            )
        ).scalars()
    )
    open_invoices = [i for i in loaded if i.status in OPEN_STATUSES]
    account = uow.session.get(Account, customer_id)
    credit = account.unapplied_credit_minor if account else 0
    overdue = sum(
        i.due_minor for i in open_invoices if days_overdue(i.due_date, i.due_minor, as_of) > 0
    )
    return {
        "customer_id": customer_id,
        "currency": currency,
        "balance": money(int(balance), currency),
        "open_total": money(sum(i.due_minor for i in open_invoices), currency),
        "overdue_total": money(overdue, currency),
        "unapplied_credit": money(credit, currency),
        "open_invoices": len(open_invoices),
        "as_of": as_of,
    }


# -- events -------------------------------------------------------------------------------


def emit_invoice_change(
    uow: UnitOfWork,
    invoice: Invoice,
    day: dt.date,
    *,
    payment_id: str | None = None,
    credit_note_id: str | None = None,
) -> None:
    """billing.invoice.updated, and .paid / .partially_paid when that is what changed."""
    uow.session.flush()
    uow.emit("billing.invoice.updated", str(invoice.id), invoice_snapshot(uow, invoice, day))
    if invoice.status in ("paid", "partially_paid"):
        c = invoice.currency
        uow.emit(
            f"billing.invoice.{invoice.status}",
            str(invoice.id),
            {
                "invoice_id": str(invoice.id),
                "customer_id": invoice.customer_id,
                "amount_paid": money(invoice.paid_minor, c),
                "amount_due": money(
                    0 if invoice.status == "void" else max(invoice.due_minor, 0), c
                ),
                "amount_credited": money(invoice.credited_minor, c),
                "total": money(invoice.total_minor, c),
                "currency": c,
                "date": day,
                "number": invoice.number,
                "issue_date": invoice.issue_date,
                "due_date": invoice.due_date,
                "payment_id": payment_id,
                "credit_note_id": credit_note_id,
            },
        )


def emit_balance(
    uow: UnitOfWork, account: Account, day: dt.date, candidates: Sequence[Invoice] | None = None
) -> None:
    uow.session.flush()
    summary = account_summary(uow, account.customer_id, account.currency, day, candidates)
    uow.emit("billing.account.balance_changed", account.customer_id, {**summary, "date": day})


# -- applying money to invoices -----------------------------------------------------------


def _apply(
    uow: UnitOfWork,
    invoice: Invoice,
    source_id: str,
    source_kind: str,
    amount: int,
    day: dt.date,
    via_credit: bool,
) -> None:
    uow.session.add(
        Application(
            invoice_id=invoice.id,
            source_id=source_id,
            source_kind=source_kind,
            via_credit=via_credit,
            amount_minor=amount,
            date=day,
            applied_at=utcnow(),
        )
    )
    if source_kind == "credit_note":
        invoice.credited_minor += amount
    else:
        invoice.paid_minor += amount
    _restatus(invoice, day)


def _restatus(invoice: Invoice, day: dt.date) -> None:
    invoice.status = invoice_status(invoice.total_minor, invoice.paid_minor, invoice.credited_minor)
    invoice.paid_on = day if invoice.status == "paid" else None
    invoice.updated_at = utcnow()


def open_invoices(uow: UnitOfWork, customer_id: str) -> list[Invoice]:
    return list(
        uow.session.execute(
            select(Invoice)
            .where(Invoice.customer_id == customer_id, Invoice.status.in_(OPEN_STATUSES))
            .order_by(Invoice.due_date, Invoice.number)
            .with_for_update()
        ).scalars()
    )


def use_credit(
    uow: UnitOfWork, account: Account, invoices: Sequence[Invoice], day: dt.date
) -> None:
    """Unapplied credit pays open invoices (oldest due first), taken from the oldest credit
    sources first; each source's use is announced as billing.payment.applied (from_credit)."""
    if account.unapplied_credit_minor <= 0:
        return
    sources = list(
        uow.session.execute(
            select(CreditSource)
            .where(
                CreditSource.customer_id == account.customer_id,
                CreditSource.reversed.is_(False),
                CreditSource.original_minor > CreditSource.used_minor,
            )
            .order_by(CreditSource.created_at, CreditSource.id)
            .with_for_update()
        ).scalars()
    )
    for source in sources:
        available = min(source.original_minor - source.used_minor, account.unapplied_credit_minor)
        plan, _ = plan_allocations(
            available,
            [],
            [
                OpenInvoice(str(i.id), i.due_minor, i.due_date or day, i.number or "")
                for i in invoices
            ],
        )
        by_id = {str(i.id): i for i in invoices}
        for invoice_id, amount in plan:
            invoice = by_id[invoice_id]
            _apply(uow, invoice, source.id, source.kind, amount, day, via_credit=True)
            source.used_minor += amount
            account.unapplied_credit_minor -= amount
            emit_invoice_change(
                uow,
                invoice,
                day,
                payment_id=source.id if source.kind == "payment" else None,
                credit_note_id=source.id if source.kind == "credit_note" else None,
            )
        if plan and source.kind == "payment":
            uow.emit(
                "billing.payment.applied",
                source.id,
                {
                    "payment_id": source.id,
                    "customer_id": account.customer_id,
                    "allocations": [
                        {"invoice_id": i, "amount": money(a, account.currency)} for i, a in plan
                    ],
                    "unapplied_amount": money(
                        source.original_minor - source.used_minor, account.currency
                    ),
                    "currency": account.currency,
                    "date": day,
                    "from_credit": True,
                },
            )
        if plan and source.kind == "credit_note":
            uow.emit(
                "billing.credit_note.applied",
                source.id,
                {
                    "credit_note_id": source.id,
                    "customer_id": account.customer_id,
                    "allocations": [
                        {"invoice_id": i, "amount": money(a, account.currency)} for i, a in plan
                    ],
                    "unapplied_amount": money(
                        source.original_minor - source.used_minor, account.currency
                    ),
                    "currency": account.currency,
                    "date": day,
                },
            )
        if account.unapplied_credit_minor <= 0:
            break


def apply_payment(
    uow: UnitOfWork,
    payment: dict[str, Any],
    amount_minor: int,
    requested: Sequence[tuple[str, int | None]],
) -> None:
    """payments.payment.received: ledger -amount, requested invoices first, then the oldest
    due, the rest as unapplied credit."""
    customer_id, currency, day = (
        str(payment["customer_id"]),
        payment["currency"],
        payment["received_on"],
    )
    account = lock_account(uow, customer_id, currency)
    payment_id = str(payment["id"])
    uow.session.add(
        ReceivedPayment(
            id=payment_id,
            customer_id=customer_id,
            number=payment.get("number"),
            amount_minor=amount_minor,
            currency=currency,
            received_on=day,
            status="applied",
            created_at=utcnow(),
        )
    )
    post(
        uow,
        customer_id,
        day,
        "payment",
        payment.get("number") or payment_id,
        -amount_minor,
        payment_id=payment_id,
    )
    invoices = open_invoices(uow, customer_id)
    plan, leftover = plan_allocations(
        amount_minor,
        requested,
        [OpenInvoice(str(i.id), i.due_minor, i.due_date or day, i.number or "") for i in invoices],
    )
    by_id = {str(i.id): i for i in invoices}
    for invoice_id, amount in plan:
        _apply(uow, by_id[invoice_id], payment_id, "payment", amount, day, via_credit=False)
        emit_invoice_change(uow, by_id[invoice_id], day, payment_id=payment_id)
    if leftover:
        uow.session.add(
            CreditSource(
                id=payment_id,
                customer_id=customer_id,
                kind="payment",
                original_minor=leftover,
                used_minor=0,
                created_at=utcnow(),
            )
        )
        account.unapplied_credit_minor += leftover
    uow.emit(
        "billing.payment.applied",
        payment_id,
        {
            "payment_id": payment_id,
            "customer_id": customer_id,
            "allocations": [{"invoice_id": i, "amount": money(a, currency)} for i, a in plan],
            "unapplied_amount": money(leftover, currency),
            "currency": currency,
            "date": day,
            "from_credit": False,
            "notify": payment.get("notify") is not False,
        },
    )
    emit_balance(uow, account, day, invoices)  # no invoice opened or closed but these


def reverse_payment(uow: UnitOfWork, payment_id: str, reason: str | None, day: dt.date) -> bool:
    """payments.payment.reversed: ledger +amount; every application that came from the
    payment (directly or through its leftover credit) is removed and its invoice re-opened;
    what is left of its credit leaves the account (which may go negative). False if billing
    never applied the payment (the caller retries: it may be early)."""
    payment = uow.session.get(ReceivedPayment, payment_id)
    if payment is None:
        return False
    account = lock_account(uow, payment.customer_id, payment.currency)
    if payment.status == "reversed":
        return True
    payment.status = "reversed"
    post(
        uow,
        payment.customer_id,
        day,
        "payment_reversal",
        payment.number or payment_id,
        payment.amount_minor,
        payment_id=payment_id,
    )
    removed = list(
        uow.session.execute(
            select(Application).where(
                Application.source_id == payment_id, Application.removed_at.is_(None)
            )
        ).scalars()
    )
    now = utcnow()
    per_invoice: dict[uuid.UUID, int] = {}
    for application in removed:
        application.removed_at = now
        per_invoice[application.invoice_id] = (
            per_invoice.get(application.invoice_id, 0) + application.amount_minor
        )
    source = uow.session.get(CreditSource, payment_id)
    if source is not None and not source.reversed:
        account.unapplied_credit_minor -= source.original_minor - source.used_minor
        source.reversed = True
    for invoice_id, amount in per_invoice.items():
        invoice = uow.session.get(Invoice, invoice_id, with_for_update=True)
        assert invoice is not None
        invoice.paid_minor -= amount
        _restatus(invoice, day)
        emit_invoice_change(uow, invoice, day, payment_id=payment_id)
    uow.emit(
        "billing.payment.unapplied",
        payment_id,
        {
            "payment_id": payment_id,
            "customer_id": payment.customer_id,
            "allocations": [
                {"invoice_id": str(i), "amount": money(a, payment.currency)}
                for i, a in per_invoice.items()
            ],
            "currency": payment.currency,
            "date": day,
            "reason": reason,
            "unapplied_amount": money(
                source.original_minor - source.used_minor if source else 0, payment.currency
            ),
        },
    )
    emit_balance(uow, account, day)
    return True


def post_refund(uow: UnitOfWork, refund: dict[str, Any], amount_minor: int) -> None:
    """payments.refund.issued: always posted; lowers unapplied credit (negative: owed)."""
    customer_id, currency, day = str(refund["customer_id"]), refund["currency"], refund["date"]
    account = lock_account(uow, customer_id, currency)
    post(
        uow,
        customer_id,
        day,
        "refund",
        refund.get("number") or str(refund["id"]),
        amount_minor,
        payment_id=str(refund["id"]),
    )
    account.unapplied_credit_minor -= amount_minor
    emit_balance(uow, account, day)


# -- invoices and credit notes ------------------------------------------------------------


def issue_invoice(
    uow: UnitOfWork, invoice: Invoice, issue_date: dt.date, due_date: dt.date
) -> None:
    """Number it (gapless per year), post it, let unapplied credit pay it, announce it."""
    account = lock_account(uow, invoice.customer_id, invoice.currency)
    seq = uow.next_number(f"invoice_number:{issue_date.year}")
    invoice.number = f"INV-{issue_date.year}-{seq:06d}"
    invoice.issue_date, invoice.due_date = issue_date, due_date
    invoice.status = invoice_status(invoice.total_minor, 0, 0)
    invoice.paid_on = issue_date if invoice.status == "paid" else None
    invoice.issued_at = invoice.updated_at = utcnow()
    post(
        uow,
        invoice.customer_id,
        issue_date,
        "invoice",
        invoice.number,
        invoice.total_minor,
        invoice_id=str(invoice.id),
    )
    uow.session.flush()
    uow.emit("billing.invoice.issued", str(invoice.id), invoice_snapshot(uow, invoice, issue_date))
    use_credit(uow, account, [invoice], issue_date)
    emit_balance(uow, account, issue_date)


def void_invoice(uow: UnitOfWork, invoice: Invoice, reason: str | None, day: dt.date) -> None:
    """Only with nothing paid or credited (the caller checks); an issued invoice's ledger
    entry is offset by a negative one, never edited."""
    was_issued = invoice.number is not None
    invoice.status, invoice.void_reason = "void", reason
    invoice.voided_at = invoice.updated_at = utcnow()
    uow.session.flush()
    uow.emit(
        "billing.invoice.voided",
        str(invoice.id),
        {
            "invoice_id": str(invoice.id),
            "customer_id": invoice.customer_id,
            "reason": reason,
            "date": day,
            "number": invoice.number,
            "total": money(invoice.total_minor, invoice.currency),
            "currency": invoice.currency,
        },
    )
    uow.emit("billing.invoice.updated", str(invoice.id), invoice_snapshot(uow, invoice, day))
    if was_issued:
        account = lock_account(uow, invoice.customer_id, invoice.currency)
        post(
            uow,
            invoice.customer_id,
            day,
            "invoice",
            f"{invoice.number} void",
            -invoice.total_minor,
            invoice_id=str(invoice.id),
        )
        emit_balance(uow, account, day)


def credit(uow: UnitOfWork, note: Any, invoice: Invoice | None, *, notify: bool = True) -> None:
    """Post a credit note: ledger -amount; against an invoice it lowers amount_due (never
    below 0), any excess becomes account credit."""
    account = lock_account(uow, note.customer_id, note.currency)
    post(
        uow,
        note.customer_id,
        note.date,
        "credit_note",
        note.number,
        -note.amount_minor,
        invoice_id=str(invoice.id) if invoice else None,
    )
    applied = 0
    if invoice is not None and invoice.status in OPEN_STATUSES:
        applied = min(note.amount_minor, invoice.due_minor)
        if applied:
            _apply(uow, invoice, str(note.id), "credit_note", applied, note.date, via_credit=False)
    note.applied_minor = applied
    excess = note.amount_minor - applied
    if excess:
        uow.session.add(
            CreditSource(
                id=str(note.id),
                customer_id=note.customer_id,
                kind="credit_note",
                original_minor=excess,
                used_minor=0,
                created_at=utcnow(),
            )
        )
        account.unapplied_credit_minor += excess
    uow.session.flush()
    uow.emit(
        "billing.credit_note.issued",
        str(note.id),
        {**credit_note_snapshot(uow, note), "notify": notify},
    )
    if applied and invoice is not None:
        emit_invoice_change(uow, invoice, note.date, credit_note_id=str(note.id))
    emit_balance(uow, account, note.date)
