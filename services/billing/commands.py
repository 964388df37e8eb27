"""Billing's use cases, each inside the caller's unit of work with the customer's account
row locked: issuing and voiding invoices, applying payments and credit, credit notes,
reversals, refunds, the overdue report and the company profile. Every change writes its
ledger entry and its events (payloads from ``events``) in the same transaction, so for
every customer at every moment

    balance = sum of ledger entries = open invoices' amounts due - unapplied credit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text, update

from services.billing import events, pricing, queries
from services.billing.domain import (
    OPEN_STATUSES,
    OpenInvoice,
    company_profile,
    credit_note_lines,
    invoice_status,
    plan_allocations,
)
from services.billing.events import ApplicationFigures, InvoiceFigures, TableRow
from services.billing.models import (
    Account,
    Application,
    CompanyProfile,
    CreditNote,
    CreditSource,
    Invoice,
    LedgerEntry,
    ReceivedPayment,
    accounts_table,
    applications_table,
    credit_sources_table,
    customer_replica,
    invoices_table,
    ledger_table,
    payments_listed_table,
    payments_table,
)
from shared.clock import isoformat, today, utcnow
from shared.db import Prebuilt, UnitOfWork, insert_if_absent
from shared.messaging.envelope import RawJson
from shared.money import MoneyError, quantum, to_minor
from shared.replicas import COMPANY
from shared.web.lookups import replica_customer
from shared.web.problems import conflict, invalid

VersionCheck = Callable[[int], None]  # raises if the caller expected another version


# -- the account and its ledger -----------------------------------------------------------


def lock_account(uow: UnitOfWork, customer_id: str, currency: str) -> Account:
    """The customer's account row, locked for this transaction (created on first use; the
    first movements of a new customer racing each other all find the row)."""
    locked = select(Account).where(Account.customer_id == customer_id).with_for_update()
    account = uow.session.execute(locked).scalar_one_or_none()
    if account is not None:
        return account
    _open_account(uow, customer_id, currency)
    return uow.session.execute(locked).scalar_one()


def _open_account(uow: UnitOfWork, customer_id: str, currency: str) -> None:
    """The customer's first movement: the account row (unless a racing one wrote it)."""
    insert_if_absent(
        uow.session,
        accounts_table,
        {
            "customer_id": customer_id,
            "currency": currency,
            "unapplied_credit_minor": 0,
            "updated_at": utcnow(),
        },
    )


def post(
    uow: UnitOfWork,
    customer_id: str,
    day: dt.date,
    *,
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


def emit_invoice_change(
    uow: UnitOfWork,
    invoice: InvoiceFigures,
    day: dt.date,
    *,
    payment_id: str | None = None,
    credit_note_id: str | None = None,
    applications: Sequence[ApplicationFigures] | None = None,
    payments_wire: RawJson | None = None,
) -> None:
    """billing.invoice.updated, and .paid / .partially_paid when that is what changed."""
    emit_invoice_updated(uow, invoice, day, applications, payments_wire)
    if invoice.status in ("paid", "partially_paid"):
        uow.emit(
            f"billing.invoice.{invoice.status}",
            str(invoice.id),
            events.invoice_settlement(invoice, day, payment_id, credit_note_id),
        )


def emit_invoice_updated(
    uow: UnitOfWork,
    invoice: InvoiceFigures,
    day: dt.date,
    applications: Sequence[ApplicationFigures] | None = None,
    payments_wire: RawJson | None = None,
) -> None:
    """billing.invoice.updated version 2, and version 1 (with every payment applied) while
    the legacy versions are published. ``invoice`` is an ORM object, flushed here, and its
    applications are read here, unless the caller gives them, or version 1's list of
    payments in its wire form (then ``invoice`` is the row as written)."""
    if applications is None and payments_wire is None:
        uow.session.flush()
    subject = str(invoice.id)
    if not uow.db.legacy_event_versions:
        v2 = events.invoice_snapshot_v2(invoice, day)
        uow.emit("billing.invoice.updated", subject, v2, version=2)
        return
    if payments_wire is not None:
        # Version 1 is version 2 plus the payments, which the database wrote as the dumper
        # would: dumping hundreds of them again at every payment was most of its cost.
        v2 = uow.emit(
            "billing.invoice.updated", subject, events.invoice_snapshot_v2(invoice, day), version=2
        )
        v1 = {**v2["data"], "payments": payments_wire}
        uow.emit_dumped("billing.invoice.updated", subject, v1)
        return
    if applications is None:
        applications = queries.active_applications(uow, [invoice.id])[invoice.id]
    whole = events.invoice_snapshot(invoice, applications, day)
    uow.emit("billing.invoice.updated", subject, events.without_payments(whole), version=2)
    uow.emit("billing.invoice.updated", subject, whole)


def emit_balance(uow: UnitOfWork, account: Account, day: dt.date) -> None:
    uow.session.flush()
    summary = queries.account_summary(uow, account.customer_id, account.currency, day)
    uow.emit("billing.account.balance_changed", account.customer_id, {**summary, "date": day})


# -- applying money to invoices -----------------------------------------------------------


def _apply(
    uow: UnitOfWork,
    invoice: Invoice,
    amount: int,
    day: dt.date,
    *,
    source_id: str,
    source_kind: str,
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
        forget_payments_listed(uow, [invoice.id])
    _restatus(invoice, day)


def _restatus(invoice: Invoice, day: dt.date) -> None:
    invoice.status = invoice_status(invoice.total_minor, invoice.paid_minor, invoice.credited_minor)
    invoice.paid_on = day if invoice.status == "paid" else None
    invoice.updated_at = utcnow()


def _plan(
    amount_minor: int,
    requested: Sequence[tuple[str, int | None]],
    invoices: Sequence[InvoiceFigures],
    day: dt.date,
) -> tuple[list[tuple[str, int]], int]:
    return plan_allocations(amount_minor, requested, [_open_invoice(i, day) for i in invoices])


def _open_invoice(invoice: InvoiceFigures, day: dt.date) -> OpenInvoice:
    return OpenInvoice(
        str(invoice.id), events.due_minor(invoice), invoice.due_date or day, invoice.number or ""
    )


def use_credit(
    uow: UnitOfWork, account: Account, invoices: Sequence[Invoice], day: dt.date
) -> None:
    """Unapplied credit pays open invoices (oldest due first), taken from the oldest credit
    sources first; each source's use is announced as billing.payment.applied (from_credit)
    or billing.credit_note.applied."""
    if account.unapplied_credit_minor <= 0:
        return
    sources = uow.session.execute(
        select(CreditSource)
        .where(
            CreditSource.customer_id == account.customer_id,
            CreditSource.reversed.is_(False),
            CreditSource.original_minor > CreditSource.used_minor,
        )
        .order_by(CreditSource.created_at, CreditSource.id)
        .with_for_update()
    ).scalars()
    by_id = {str(i.id): i for i in invoices}
    for source in list(sources):
        available = min(source.original_minor - source.used_minor, account.unapplied_credit_minor)
        plan, _ = _plan(available, [], invoices, day)
        for invoice_id, amount in plan:
            invoice = by_id[invoice_id]
            _apply(
                uow,
                invoice,
                amount,
                day,
                source_id=source.id,
                source_kind=source.kind,
                via_credit=True,
            )
            source.used_minor += amount
            account.unapplied_credit_minor -= amount
            emit_invoice_change(
                uow,
                invoice,
                day,
                payment_id=source.id if source.kind == "payment" else None,
                credit_note_id=source.id if source.kind == "credit_note" else None,
            )
        if plan:
            _emit_credit_used(uow, account, source, plan, day)
        if account.unapplied_credit_minor <= 0:
            break


def _emit_credit_used(
    uow: UnitOfWork,
    account: Account,
    source: CreditSource,
    plan: list[tuple[str, int]],
    day: dt.date,
) -> None:
    left = source.original_minor - source.used_minor
    customer_id, currency = account.customer_id, account.currency
    if source.kind == "payment":
        data = events.payment_applied(
            source.id,
            customer_id,
            plan,
            unapplied_minor=left,
            currency=currency,
            day=day,
            from_credit=True,
        )
        uow.emit("billing.payment.applied", source.id, data)
    else:
        data = events.credit_note_applied(
            source.id, customer_id, plan, unapplied_minor=left, currency=currency, day=day
        )
        uow.emit("billing.credit_note.applied", source.id, data)


# -- applying a payment: the payment flow's hot path --------------------------------------
# Core statements, built once (on PostgreSQL run as SQL compiled once, shared/prebuilt.py):
# the account and its open invoices read in two locking statements, the new rows written in
# one statement per table, each paid invoice changed by one UPDATE that returns the row its
# payloads are built from, and the balance event from the figures in hand.

_LOCKED_ACCOUNT = Prebuilt(
    select(accounts_table.c.currency, accounts_table.c.unapplied_credit_minor)
    .where(accounts_table.c.customer_id == bindparam("customer_id"))
    .with_for_update()
)
_BALANCE = select(func.coalesce(func.sum(ledger_table.c.amount_minor), 0)).where(
    ledger_table.c.customer_id == bindparam("customer_id")
)
# The balance rides along (read once): every ledger entry of the customer is posted under
# the account lock, which this transaction holds by now.
_LOCKED_OPEN_INVOICES = Prebuilt(
    select(
        *(
            invoices_table.c[name]
            for name in ("id", "number", "due_date", "total_minor", "paid_minor", "credited_minor")
        ),
        _BALANCE.scalar_subquery().label("balance"),
    )
    .where(
        invoices_table.c.customer_id == bindparam("customer_id"),
        invoices_table.c.status.in_(OPEN_STATUSES),
    )
    .order_by(invoices_table.c.due_date, invoices_table.c.number)
    .with_for_update()
)
_APPLICATION_FIGURES = [
    applications_table.c[name]
    for name in ("invoice_id", "source_id", "source_kind", "amount_minor", "applied_at", "date")
]
_PAYMENTS_APPLIED = Prebuilt(
    select(*_APPLICATION_FIGURES)
    .where(
        applications_table.c.invoice_id.in_(bindparam("invoice_ids", expanding=True)),
        applications_table.c.removed_at.is_(None),
        applications_table.c.source_kind == "payment",
    )
    .order_by(applications_table.c.id)
)
NO_PAYMENTS = RawJson("[]")
# One payment of version 1's list in its wire form, as the catalog's dumper writes it
# (tests/services/test_billing_event_versions.py holds them to each other): the amount at
# the currency's places (the product of two numerics has the sum of their scales), the
# instant in UTC ending in Z with microseconds only when there are some.
_PAYMENT_WIRE = r"""json_build_object(
    'payment_id', a.source_id,
    'amount', (a.amount_minor * CAST(:unit AS NUMERIC))::text,
    'applied_at', to_char(a.applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24\:MI\:SS')
        || CASE WHEN a.applied_at = date_trunc('second', a.applied_at) THEN ''
                ELSE to_char(a.applied_at AT TIME ZONE 'UTC', '.US') END || 'Z',
    'date', to_char(a.date, 'YYYY-MM-DD'))::text"""
# PostgreSQL: per invoice, the whole list from its applications, kept for the next payment.
_LIST_PAYMENTS = Prebuilt(
    text(
        f"""
INSERT INTO payments_listed (invoice_id, payments)
SELECT a.invoice_id, '[' || string_agg({_PAYMENT_WIRE}, ',' ORDER BY a.id) || ']'
FROM applications AS a
WHERE a.invoice_id = ANY(:invoice_ids) AND a.removed_at IS NULL AND a.source_kind = 'payment'
GROUP BY a.invoice_id
ON CONFLICT (invoice_id) DO UPDATE SET payments = excluded.payments
RETURNING invoice_id, payments
"""
    )
)
# PostgreSQL: the kept list of each new application's invoice, with its payment appended.
_LIST_NEW_PAYMENTS = Prebuilt(
    text(
        f"""
UPDATE payments_listed AS l
SET payments = left(l.payments, -1) || ',' || {_PAYMENT_WIRE} || ']'
FROM applications AS a
WHERE a.id = ANY(:application_ids) AND l.invoice_id = a.invoice_id
RETURNING l.invoice_id, l.payments
"""
    )
)
_FORGET_LISTS = Prebuilt(
    delete(payments_listed_table).where(
        payments_listed_table.c.invoice_id.in_(bindparam("invoice_ids", expanding=True))
    )
)
_BALANCE_NOW = Prebuilt(_BALANCE)
_NEW_PAYMENT = Prebuilt(insert(payments_table))
_NEW_LEDGER_ENTRY = Prebuilt(insert(ledger_table))
_NEW_CREDIT = Prebuilt(insert(credit_sources_table))
_NEW_APPLICATIONS = Prebuilt(
    insert(applications_table).returning(applications_table.c.id, *_APPLICATION_FIGURES)
)
_SETTLE_INVOICE = Prebuilt(
    update(invoices_table)
    .where(invoices_table.c.id == bindparam("invoice_id"))
    .values(
        paid_minor=bindparam("paid"),
        status=bindparam("new_status"),
        paid_on=bindparam("paid_day"),
        updated_at=bindparam("now"),
        version=invoices_table.c.version + 1,
    )
    .returning(*(c for c in invoices_table.c if not c.name.startswith(("requested_", "overdue_"))))
)
_SET_CREDIT = Prebuilt(
    update(accounts_table)
    .where(accounts_table.c.customer_id == bindparam("account"))
    .values(unapplied_credit_minor=bindparam("credit"))
)


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
    payment_id = str(payment["id"])
    # uow.run flushes earlier ORM changes of this transaction before reading with Core.
    account = _locked_account(uow, customer_id, currency)
    loaded = uow.run(_LOCKED_OPEN_INVOICES, {"customer_id": customer_id})
    plan, leftover = plan_allocations(
        amount_minor, requested, [_open_invoice(i, day) for i in loaded]
    )
    now = utcnow()
    _record_payment(uow, payment, amount_minor, now)
    statuses = _settle(uow, payment_id, plan, loaded, day, currency=currency)
    credit = account.unapplied_credit_minor + leftover
    if leftover:
        _keep_credit(uow, customer_id, payment_id, leftover, credit)
    notify = payment.get("notify") is not False
    data = events.payment_applied(
        payment_id,
        customer_id,
        plan,
        unapplied_minor=leftover,
        currency=currency,
        day=day,
        from_credit=False,
        notify=notify,
    )
    uow.emit("billing.payment.applied", payment_id, data)
    taken = dict(plan)
    summary = events.account_balance(
        customer_id,
        account.currency,
        day,
        balance_minor=_balance_after(uow, customer_id, loaded, -amount_minor),
        credit_minor=credit,
        open_dues=[
            (i.due_date, events.due_minor(i) - taken.get(str(i.id), 0))
            for i in loaded
            if statuses.get(str(i.id), "open") in OPEN_STATUSES  # not paid: still open
        ],
    )
    uow.emit("billing.account.balance_changed", customer_id, {**summary, "date": day})
    if uow.session.identity_map:  # ORM objects of this transaction may hold what changed
        uow.session.expire_all()


def _balance_after(
    uow: UnitOfWork, customer_id: str, loaded: Sequence[TableRow], posted: int
) -> int:
    """The balance once the ``posted`` entry is in: the one read with the open invoices
    plus the entry, or (no invoice open) read now."""
    if loaded:
        return int(loaded[0].balance) + posted
    (balance,) = uow.run(_BALANCE_NOW, {"customer_id": customer_id})
    return int(balance[0])


def _locked_account(uow: UnitOfWork, customer_id: str, currency: str) -> TableRow:
    """lock_account's Core twin: the account's currency and unapplied credit."""
    found = uow.run(_LOCKED_ACCOUNT, {"customer_id": customer_id})
    if found:
        return found[0]
    _open_account(uow, customer_id, currency)
    (account,) = uow.run(_LOCKED_ACCOUNT, {"customer_id": customer_id})
    return account


def _record_payment(
    uow: UnitOfWork, payment: dict[str, Any], amount_minor: int, now: dt.datetime
) -> None:
    """Billing's record of the payment (reversals find it by id) and its ledger entry."""
    payment_id, customer_id = str(payment["id"]), str(payment["customer_id"])
    uow.run(
        _NEW_PAYMENT,
        {
            "id": payment_id,
            "customer_id": customer_id,
            "number": payment.get("number"),
            "amount_minor": amount_minor,
            "currency": payment["currency"],
            "received_on": payment["received_on"],
            "status": "applied",
            "created_at": now,
        },
    )
    uow.run(
        _NEW_LEDGER_ENTRY,
        {
            "customer_id": customer_id,
            "date": payment["received_on"],
            "type": "payment",
            "reference": payment.get("number") or payment_id,
            "amount_minor": -amount_minor,
            "invoice_id": None,
            "payment_id": payment_id,
            "created_at": now,
        },
    )


def _settle(
    uow: UnitOfWork,
    payment_id: str,
    plan: Sequence[tuple[str, int]],
    loaded: Sequence[TableRow],
    day: dt.date,
    *,
    currency: str,
) -> dict[str, str]:
    """Apply the payment to the invoices of ``plan`` (its applications in one statement,
    each invoice's figures in one UPDATE returning the row) and announce each change;
    returns each invoice's new status."""
    if not plan:
        return {}
    by_id = {str(row.id): row for row in loaded}
    as_wire = uow.db.dialect == "postgresql"
    earlier = {} if as_wire else _payments_applied(uow, [by_id[i] for i, _ in plan])
    now = utcnow()
    new_rows = [
        {
            "invoice_id": by_id[invoice_id].id,
            "source_id": payment_id,
            "source_kind": "payment",
            "via_credit": False,
            "amount_minor": amount,
            "date": day,
            "applied_at": now,
        }
        for invoice_id, amount in plan
    ]
    applied = {str(row.invoice_id): row for row in uow.run(_NEW_APPLICATIONS, new_rows)}
    listed = _payments_wire_after(uow, list(applied.values()), currency) if as_wire else {}
    statuses = {}
    for invoice_id, amount in plan:
        before = by_id[invoice_id]
        paid = before.paid_minor + amount
        status = invoice_status(before.total_minor, paid, before.credited_minor)
        values = {"invoice_id": before.id, "paid": paid, "new_status": status, "now": now}
        values["paid_day"] = day if status == "paid" else None
        (invoice,) = uow.run(_SETTLE_INVOICE, values)
        statuses[invoice_id] = status
        if as_wire:
            wire = listed.get(invoice_id, NO_PAYMENTS)
            emit_invoice_change(uow, invoice, day, payment_id=payment_id, payments_wire=wire)
            continue
        applications = [*earlier.get(invoice_id, []), applied[invoice_id]]
        emit_invoice_change(uow, invoice, day, payment_id=payment_id, applications=applications)
    return statuses


def payments_wire(uow: UnitOfWork, invoice_ids: Sequence[Any], currency: str) -> dict[str, RawJson]:
    """PostgreSQL: per invoice, the payments applied to it in version 1's wire form, written
    from its applications and kept (only while version 1 is published; none otherwise); as
    the JSON text the database wrote, which goes into the event's payload unparsed."""
    if not uow.db.legacy_event_versions:
        return {}
    rows = uow.run(_LIST_PAYMENTS, {"invoice_ids": list(invoice_ids), "unit": quantum(currency)})
    return {str(row.invoice_id): RawJson(row.payments) for row in rows}


def _payments_wire_after(
    uow: UnitOfWork, applied: Sequence[TableRow], currency: str
) -> dict[str, RawJson]:
    """:func:`payments_wire` after the new applications ``applied`` (one per invoice): each
    kept list with its new payment appended, the others written whole. While version 1 is
    not published, the lists of these invoices are dropped instead (no longer complete)."""
    invoice_ids = [row.invoice_id for row in applied]
    if not uow.db.legacy_event_versions:
        forget_payments_listed(uow, invoice_ids)
        return {}
    appended = uow.run(
        _LIST_NEW_PAYMENTS,
        {"application_ids": [row.id for row in applied], "unit": quantum(currency)},
    )
    listed = {str(row.invoice_id): RawJson(row.payments) for row in appended}
    missing = [invoice_id for invoice_id in invoice_ids if str(invoice_id) not in listed]
    return {**listed, **payments_wire(uow, missing, currency)} if missing else listed


def forget_payments_listed(uow: UnitOfWork, invoice_ids: Sequence[Any]) -> None:
    """The invoices' payments changed other than by the payment path: their kept lists of
    payments are no longer complete (written whole at their next payment)."""
    if invoice_ids:
        uow.run(_FORGET_LISTS, {"invoice_ids": list(invoice_ids)})


def _payments_applied(uow: UnitOfWork, invoices: Sequence[TableRow]) -> dict[str, list[TableRow]]:
    """Per invoice, the payments applied to it so far (for billing.invoice.updated version
    1 only): read only for invoices something was paid on."""
    ids = [invoice.id for invoice in invoices if invoice.paid_minor]
    if not ids or not uow.db.legacy_event_versions:
        return {}
    found: dict[str, list[TableRow]] = {}
    for row in uow.run(_PAYMENTS_APPLIED, {"invoice_ids": ids}):
        found.setdefault(str(row.invoice_id), []).append(row)
    return found


def _keep_credit(
    uow: UnitOfWork, customer_id: str, payment_id: str, leftover: int, credit: int
) -> None:
    """The payment's ``leftover`` becomes account credit (now ``credit`` in all)."""
    uow.run(
        _NEW_CREDIT,
        {
            "id": payment_id,
            "customer_id": customer_id,
            "kind": "payment",
            "original_minor": leftover,
            "used_minor": 0,
            "reversed": False,
            "created_at": utcnow(),
        },
    )
    uow.run(_SET_CREDIT, {"account": customer_id, "credit": credit})


def _add_credit(uow: UnitOfWork, account: Account, source_id: str, kind: str, amount: int) -> None:
    """``amount`` of ``source_id`` left over as account credit, to pay later invoices."""
    uow.session.add(
        CreditSource(
            id=source_id,
            customer_id=account.customer_id,
            kind=kind,
            original_minor=amount,
            used_minor=0,
            created_at=utcnow(),
        )
    )
    account.unapplied_credit_minor += amount


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
        kind="payment_reversal",
        reference=payment.number or payment_id,
        amount_minor=payment.amount_minor,
        payment_id=payment_id,
    )
    removed = _remove_applications(uow, payment_id)
    source = uow.session.get(CreditSource, payment_id)
    if source is not None and not source.reversed:
        account.unapplied_credit_minor -= source.original_minor - source.used_minor
        source.reversed = True
    for invoice_id, amount in removed.items():
        invoice = uow.session.get(Invoice, invoice_id, with_for_update=True)
        assert invoice is not None
        invoice.paid_minor -= amount
        _restatus(invoice, day)
        emit_invoice_change(uow, invoice, day, payment_id=payment_id)
    left = source.original_minor - source.used_minor if source else 0
    data = events.payment_unapplied(
        payment_id,
        payment.customer_id,
        list(removed.items()),
        unapplied_minor=left,
        currency=payment.currency,
        day=day,
        reason=reason,
    )
    uow.emit("billing.payment.unapplied", payment_id, data)
    emit_balance(uow, account, day)
    return True


def _remove_applications(uow: UnitOfWork, payment_id: str) -> dict[uuid.UUID, int]:
    """Mark every active application of the payment removed; what each invoice loses."""
    now = utcnow()
    per_invoice: dict[uuid.UUID, int] = {}
    for application in uow.session.execute(
        select(Application).where(
            Application.source_id == payment_id, Application.removed_at.is_(None)
        )
    ).scalars():
        application.removed_at = now
        per_invoice[application.invoice_id] = (
            per_invoice.get(application.invoice_id, 0) + application.amount_minor
        )
    forget_payments_listed(uow, list(per_invoice))
    return per_invoice


def post_refund(uow: UnitOfWork, refund: dict[str, Any], amount_minor: int) -> None:
    """payments.refund.issued: always posted; lowers unapplied credit (negative: owed)."""
    customer_id, currency, day = str(refund["customer_id"]), refund["currency"], refund["date"]
    account = lock_account(uow, customer_id, currency)
    post(
        uow,
        customer_id,
        day,
        kind="refund",
        reference=refund.get("number") or str(refund["id"]),
        amount_minor=amount_minor,
        payment_id=str(refund["id"]),
    )
    account.unapplied_credit_minor -= amount_minor
    emit_balance(uow, account, day)


# -- invoices -----------------------------------------------------------------------------


def create_invoice(uow: UnitOfWork, request: dict[str, Any]) -> Invoice:
    """An invoice auto-filled from the customer (bill-to, currency, due date from terms) and
    priced by the catalog and the customer's contract; issued unless ``draft``."""
    customer = pricing.billable_customer(uow, request["customer_id"])
    issue, due = pricing.invoice_dates(customer, request["issue_date"], request["due_date"])
    lines = [
        {
            **line,
            "quantity": str(line["quantity"]),
            "unit_price": None if line["unit_price"] is None else str(line["unit_price"]),
        }
        for line in request["lines"]
    ]
    priced = pricing.price(uow, customer, lines, issue)
    now = utcnow()
    invoice = Invoice(
        id=uuid.uuid4(),
        customer_id=customer.id,
        status="draft",
        currency=customer.currency,
        requested_issue_date=request["issue_date"],
        requested_due_date=request["due_date"],
        bill_to=pricing.bill_to(customer),
        requested_lines=lines,
        paid_minor=0,
        credited_minor=0,
        notes=request["notes"],
        notify=request["notify"],
        created_at=now,
        updated_at=now,
    )
    pricing.apply_pricing(invoice, priced)
    uow.session.add(invoice)
    uow.session.flush()
    if not request["draft"]:
        _issue(uow, invoice, issue, due)
    uow.session.flush()
    return invoice


def issue_draft(uow: UnitOfWork, invoice_id: uuid.UUID, check_version: VersionCheck) -> Invoice:
    """A draft is re-priced, dated (today unless it has an issue_date), numbered and posted."""
    invoice = queries.invoice(uow, invoice_id, for_update=True)
    check_version(invoice.version)
    if invoice.status != "draft":
        raise conflict(f"invoice {invoice.number or invoice.id} is {invoice.status}, not a draft")
    customer = pricing.billable_customer(uow, invoice.customer_id)
    issue, due = pricing.invoice_dates(
        customer, invoice.requested_issue_date, invoice.requested_due_date
    )
    pricing.apply_pricing(invoice, pricing.price(uow, customer, invoice.requested_lines, issue))
    invoice.bill_to = pricing.bill_to(customer)
    _issue(uow, invoice, issue, due)
    uow.session.flush()
    return invoice


def _issue(uow: UnitOfWork, invoice: Invoice, issue_date: dt.date, due_date: dt.date) -> None:
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
        kind="invoice",
        reference=invoice.number,
        amount_minor=invoice.total_minor,
        invoice_id=str(invoice.id),
    )
    uow.session.flush()
    snapshot = queries.invoice_view(uow, invoice, issue_date)
    uow.emit("billing.invoice.issued", str(invoice.id), snapshot)
    use_credit(uow, account, [invoice], issue_date)
    emit_balance(uow, account, issue_date)


def void_invoice(
    uow: UnitOfWork, invoice_id: uuid.UUID, reason: str | None, check_version: VersionCheck
) -> Invoice:
    """Only an invoice with nothing paid or credited can be voided; an issued invoice's
    ledger entry is offset by a negative one, never edited."""
    invoice = queries.invoice(uow, invoice_id, for_update=True)
    check_version(invoice.version)
    if invoice.status == "void":
        raise conflict("the invoice is already void")
    if invoice.paid_minor or invoice.credited_minor:
        raise conflict("the invoice has payments or credits applied: credit it instead")
    day, was_issued = today(), invoice.number is not None
    invoice.status, invoice.void_reason = "void", reason
    invoice.voided_at = invoice.updated_at = utcnow()
    uow.session.flush()
    uow.emit("billing.invoice.voided", str(invoice.id), events.invoice_voided(invoice, reason, day))
    emit_invoice_updated(uow, invoice, day)
    if was_issued:
        account = lock_account(uow, invoice.customer_id, invoice.currency)
        post(
            uow,
            invoice.customer_id,
            day,
            kind="invoice",
            reference=f"{invoice.number} void",
            amount_minor=-invoice.total_minor,
            invoice_id=str(invoice.id),
        )
        emit_balance(uow, account, day)
    uow.session.flush()
    return invoice


def report_overdue(uow: UnitOfWork, as_of: dt.date) -> list[str]:
    """billing.invoice.overdue for every open invoice past due on ``as_of`` not yet reported;
    returns their numbers. Running it again for the same or a later day reports nothing twice."""
    late = uow.session.execute(
        select(Invoice)
        .where(
            Invoice.status.in_(OPEN_STATUSES),
            Invoice.due_date < as_of,
            Invoice.overdue_reported.is_(False),
        )
        .order_by(Invoice.due_date, Invoice.number)
        .with_for_update(skip_locked=True)
    ).scalars()
    reported = []
    for invoice in late:
        invoice.overdue_reported = True
        uow.emit("billing.invoice.overdue", str(invoice.id), events.invoice_overdue(invoice, as_of))
        reported.append(invoice.number or str(invoice.id))
    return reported


# -- credit notes -------------------------------------------------------------------------


def create_credit_note(uow: UnitOfWork, request: dict[str, Any]) -> CreditNote:
    """Against an invoice: split over its tax rates pro rata, lowers amount_due (never below
    0), the excess becomes account credit. Standalone: all account credit."""
    customer = replica_customer(uow, customer_replica, request["customer_id"])
    try:
        amount_minor = to_minor(request["amount"], customer.currency)
    except MoneyError as exc:
        raise invalid("amount", str(exc)) from None
    invoice = None
    if request["invoice_id"] is not None:
        invoice = _creditable_invoice(uow, request["invoice_id"], customer.id, amount_minor)
    day = request["date"] or today()
    seq = uow.next_number(f"credit_note_number:{day.year}")
    note = CreditNote(
        id=uuid.uuid4(),
        number=f"CN-{day.year}-{seq:06d}",
        customer_id=customer.id,
        invoice_id=invoice.id if invoice else None,
        currency=customer.currency,
        amount_minor=amount_minor,
        lines=credit_note_lines(
            amount_minor,
            customer.currency,
            invoice.lines if invoice is not None else None,
            request["tax_rate"],
        ),
        applied_minor=0,
        reason=request["reason"],
        date=day,
        notify=request["notify"],
        created_at=utcnow(),
    )
    uow.session.add(note)
    uow.session.flush()
    _credit(uow, note, invoice)
    return note


def _creditable_invoice(
    uow: UnitOfWork, invoice_id: uuid.UUID, customer_id: str, amount_minor: int
) -> Invoice:
    invoice = uow.session.execute(
        select(Invoice).where(Invoice.id == invoice_id).with_for_update()
    ).scalar_one_or_none()
    if invoice is None or invoice.customer_id != customer_id:
        raise invalid("invoice_id", f"no invoice {invoice_id} of this customer")
    if invoice.status in ("draft", "void"):
        raise conflict(f"a {invoice.status} invoice cannot be credited")
    if amount_minor > invoice.total_minor - invoice.credited_minor:
        raise invalid("amount", "more than the invoice's total not yet credited")
    return invoice


def _credit(uow: UnitOfWork, note: CreditNote, invoice: Invoice | None) -> None:
    """Post a credit note: ledger -amount; against an invoice it lowers amount_due (never
    below 0), any excess becomes account credit."""
    account = lock_account(uow, note.customer_id, note.currency)
    post(
        uow,
        note.customer_id,
        note.date,
        kind="credit_note",
        reference=note.number,
        amount_minor=-note.amount_minor,
        invoice_id=str(invoice.id) if invoice else None,
    )
    applied = 0
    if invoice is not None and invoice.status in OPEN_STATUSES:
        applied = min(note.amount_minor, invoice.due_minor)
        if applied:
            _apply(
                uow,
                invoice,
                applied,
                note.date,
                source_id=str(note.id),
                source_kind="credit_note",
                via_credit=False,
            )
    note.applied_minor = applied
    if note.amount_minor - applied:
        _add_credit(uow, account, str(note.id), "credit_note", note.amount_minor - applied)
    uow.session.flush()
    uow.emit("billing.credit_note.issued", str(note.id), queries.credit_note_view(uow, note))
    if applied and invoice is not None:
        emit_invoice_change(uow, invoice, note.date, credit_note_id=str(note.id))
    emit_balance(uow, account, note.date)


# -- the company profile ------------------------------------------------------------------


def update_company(
    uow: UnitOfWork, changes: dict[str, Any], check_version: VersionCheck
) -> dict[str, Any]:
    """Replace the profile with ``changes`` (a whole profile, validated by the API), raise
    its version and emit ``billing.company.updated``; answers the new profile."""
    row = uow.session.get(CompanyProfile, COMPANY, with_for_update=True)
    check_version(row.version if row is not None else 0)
    version = (row.version if row is not None else 0) + 1
    now = utcnow()
    profile = company_profile(changes, version, isoformat(now))
    if row is None:
        row = CompanyProfile(id=COMPANY, profile=profile, version=version, updated_at=now)
        uow.session.add(row)
    else:
        row.profile, row.version, row.updated_at = profile, version, now
    uow.session.flush()
    uow.emit("billing.company.updated", COMPANY, {**profile, "updated_at": now})
    return profile
