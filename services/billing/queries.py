"""Billing's reads: invoices and credit notes as the API shows them, accounts, the
transaction history, the company profile and the customer's language."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, literal, select, true, tuple_

from services.billing import events
from services.billing.domain import OPEN_STATUSES, empty_profile
from services.billing.models import (
    Application,
    CompanyProfile,
    CreditNote,
    Invoice,
    LedgerEntry,
    accounts_table,
    customer_replica,
    invoices_table,
    ledger_table,
    payments_table,
)
from shared.clock import today
from shared.db import Prebuilt, UnitOfWork
from shared.money import from_minor
from shared.replicas import COMPANY
from shared.web.lists import keyset_page
from shared.web.lookups import one_or_404
from shared.web.problems import invalid, not_found


def invoice(uow: UnitOfWork, invoice_id: uuid.UUID, *, for_update: bool = False) -> Invoice:
    """The invoice, or 404."""
    stmt = select(Invoice).where(Invoice.id == invoice_id)
    return one_or_404(uow, stmt, f"invoice {invoice_id}", for_update=for_update)


_CUSTOMERS_INVOICES = select(invoices_table).where(
    invoices_table.c.id.in_(bindparam("invoice_ids", expanding=True)),
    invoices_table.c.customer_id.in_(bindparam("customer_ids", expanding=True)),
)


def customer_invoices(
    uow: UnitOfWork, customer_id: str, invoice_ids: Sequence[uuid.UUID]
) -> list[events.TableRow]:
    """The customer's invoices ``invoice_ids`` in that order (each once), as rows of their
    table; 422 naming ``invoice_id`` if one is not the customer's."""
    return invoices_by_customer(uow, [customer_id], invoice_ids, whose="this customer").get(
        customer_id, []
    )


def invoices_by_customer(
    uow: UnitOfWork,
    customer_ids: Sequence[str],
    invoice_ids: Sequence[uuid.UUID],
    *,
    whose: str = "these customers",
) -> dict[str, list[events.TableRow]]:
    """Per customer of ``customer_ids``, its invoices among ``invoice_ids`` in the order
    asked (each once), from one query; 422 naming ``invoice_id`` if one is none of theirs."""
    wanted = list(dict.fromkeys(invoice_ids))
    found = {}
    if wanted and customer_ids:
        params = {"invoice_ids": wanted, "customer_ids": list(customer_ids)}
        found = {row.id: row for row in uow.session.execute(_CUSTOMERS_INVOICES, params)}
    grouped: dict[str, list[events.TableRow]] = {}
    for invoice_id in wanted:
        if invoice_id not in found:
            raise invalid("invoice_id", f"no invoice {invoice_id} of {whose}")
        row = found[invoice_id]
        grouped.setdefault(row.customer_id, []).append(row)
    return grouped


_REPLICA_CURRENCIES = select(customer_replica.c.id, customer_replica.c.currency).where(
    customer_replica.c.id.in_(bindparam("ids", expanding=True))
)


def replica_currencies(uow: UnitOfWork, customer_ids: Sequence[uuid.UUID]) -> dict[str, str]:
    """The currency of each of ``customer_ids`` billing has seen, in the order asked (each
    once); those it has not seen are left out (no request to customers for them)."""
    wanted = [str(customer_id) for customer_id in dict.fromkeys(customer_ids)]
    if not wanted:
        return {}
    rows = uow.connection().execute(_REPLICA_CURRENCIES, {"ids": wanted})
    found = {row.id: row.currency for row in rows}
    return {customer_id: found[customer_id] for customer_id in wanted if customer_id in found}


def active_applications(uow: UnitOfWork, invoice_ids: Sequence[uuid.UUID]) -> dict[Any, list]:
    """Per invoice, the money applied to it and not removed, oldest first (one query)."""
    found: dict[Any, list[Application]] = {invoice_id: [] for invoice_id in invoice_ids}
    if not invoice_ids:
        return found
    for application in uow.session.execute(
        select(Application)
        .where(Application.invoice_id.in_(invoice_ids), Application.removed_at.is_(None))
        .order_by(Application.id)
    ).scalars():
        found[application.invoice_id].append(application)
    return found


def invoice_view(uow: UnitOfWork, row: Invoice, as_of: dt.date | None = None) -> dict[str, Any]:
    """The whole invoice as the API answers and events carry it."""
    applications = active_applications(uow, [row.id])[row.id]
    return events.invoice_snapshot(row, applications, as_of or today())


def invoice_views(
    uow: UnitOfWork, rows: Sequence[events.InvoiceFigures], *, payments: bool = True
) -> list[dict[str, Any]]:
    """Many invoices, their applications read in one query; without ``payments`` the form
    of billing.invoice.updated version 2, which reads none (its cost is the same however
    many payments an invoice has had)."""
    as_of = today()
    if not payments:
        return [events.invoice_snapshot_v2(row, as_of) for row in rows]
    applications = active_applications(uow, [row.id for row in rows])
    return [events.invoice_snapshot(row, applications[row.id], as_of) for row in rows]


def credit_note(uow: UnitOfWork, credit_note_id: uuid.UUID) -> CreditNote:
    """The credit note, or 404."""
    note = uow.session.get(CreditNote, credit_note_id)
    if note is None:
        raise not_found(f"credit note {credit_note_id}")
    return note


def credit_note_view(uow: UnitOfWork, note: CreditNote) -> dict[str, Any]:
    """The whole credit note with the number of the invoice it credits."""
    return credit_note_views(uow, [note])[0]


def credit_note_views(uow: UnitOfWork, notes: Sequence[CreditNote]) -> list[dict[str, Any]]:
    """Many credit notes, their invoices' numbers read in one query."""
    invoice_ids = {note.invoice_id for note in notes if note.invoice_id}
    numbers: dict[Any, str | None] = {}
    if invoice_ids:
        found = select(Invoice.id, Invoice.number).where(Invoice.id.in_(invoice_ids))
        numbers = {row.id: row.number for row in uow.session.execute(found)}
    return [
        events.credit_note_snapshot(note, numbers.get(note.invoice_id) if note.invoice_id else None)
        for note in notes
    ]


# One row source, so that the account's figures come with no open invoice too.
_ONE_ROW = select(literal(1).label("one")).subquery()
# The balance and the credit beside each open invoice's due date and amount due (one row
# of NULL dues when none is open): the account's figures in one statement.
_ACCOUNT_FIGURES = (
    select(
        select(func.coalesce(func.sum(ledger_table.c.amount_minor), 0))
        .where(ledger_table.c.customer_id == bindparam("customer_id"))
        .scalar_subquery()
        .label("balance"),
        select(accounts_table.c.unapplied_credit_minor)
        .where(accounts_table.c.customer_id == bindparam("customer_id"))
        .scalar_subquery()
        .label("credit"),
        invoices_table.c.id,
        invoices_table.c.due_date,
        (
            invoices_table.c.total_minor
            - invoices_table.c.paid_minor
            - invoices_table.c.credited_minor
        ).label("due"),
    )
    .select_from(_ONE_ROW)
    .outerjoin(
        invoices_table,
        and_(
            invoices_table.c.customer_id == bindparam("customer_id"),
            invoices_table.c.status.in_(OPEN_STATUSES),
        ),
    )
)


def account_summary(
    uow: UnitOfWork, customer_id: str, currency: str, as_of: dt.date
) -> dict[str, Any]:
    """The account's figures, from one statement built once. Reads what is flushed."""
    rows = uow.session.execute(_ACCOUNT_FIGURES, {"customer_id": customer_id}).all()
    return events.account_balance(
        customer_id,
        currency,
        as_of,
        balance_minor=int(rows[0].balance),
        credit_minor=int(rows[0].credit or 0),
        open_dues=[(row.due_date, int(row.due)) for row in rows if row.id is not None],
    )


def account_view(
    uow: UnitOfWork,
    customer_id: str,
    currency: str,
    invoices: Sequence[events.InvoiceFigures],
    *,
    payments: bool,
) -> dict[str, Any]:
    """The account as ``GET /accounts/{customer_id}`` answers it: its figures, and
    ``invoices`` (the customer's, read in the same transaction) with or without payments."""
    summary = account_summary(uow, customer_id, currency, today())
    return {**summary, "invoices": invoice_views(uow, invoices, payments=payments)}


_PAYMENT_CONTEXT = Prebuilt(
    select(
        select(payments_table.c.id)
        .where(payments_table.c.id == bindparam("payment_id"))
        .scalar_subquery()
        .label("applied"),
        select(customer_replica.c.currency)
        .where(customer_replica.c.id == bindparam("customer_id"))
        .scalar_subquery()
        .label("currency"),
        select(func.count())
        .select_from(invoices_table)
        .where(invoices_table.c.id.in_(bindparam("invoice_ids", expanding=True)))
        .scalar_subquery()
        .label("invoices"),
    )
)


def payment_context(
    uow: UnitOfWork, payment_id: str, customer_id: str, invoice_ids: Sequence[uuid.UUID]
) -> events.TableRow:
    """What applying a payment depends on, in one round trip: ``applied`` (its id if billing
    applied it already), ``currency`` (the customer's, None if not seen yet) and
    ``invoices`` (how many of ``invoice_ids``, distinct, billing knows)."""
    params = {"payment_id": payment_id, "customer_id": customer_id, "invoice_ids": invoice_ids}
    (context,) = uow.run(_PAYMENT_CONTEXT, params)
    return context


def payment_allocations(
    uow: UnitOfWork, payment_ids: list[str], currency: str
) -> dict[str, list[dict[str, Any]]]:
    """Per payment, the invoices it pays now (directly or through its leftover credit; a
    reversal removes them), with their numbers and amounts, oldest application first."""
    if not payment_ids:
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    for application, number in uow.session.execute(
        select(Application, Invoice.number)
        .join(Invoice, Invoice.id == Application.invoice_id)
        .where(
            Application.source_id.in_(payment_ids),
            Application.source_kind == "payment",
            Application.removed_at.is_(None),
        )
        .order_by(Application.id)
    ):
        found.setdefault(application.source_id, []).append(
            {
                "invoice_id": str(application.invoice_id),
                "invoice_number": number,
                "amount": from_minor(application.amount_minor, currency),
                "date": application.date,
            }
        )
    return found


@dataclass(frozen=True)
class History:
    """A stretch of a customer's transaction history, each entry with the balance after it."""

    opening_minor: int
    items: list[dict[str, Any]]
    next_cursor: str | None


def transactions(
    uow: UnitOfWork, customer_id: str, currency: str, window: dict[str, Any], *, whole: bool
) -> History:
    """The ledger entries dated within ``window`` (``from_``, ``to``), oldest first: the
    page after ``window["cursor"]`` of ``window["limit"]`` entries, or every one if
    ``whole``; with the balance before the first and after each."""
    mine = LedgerEntry.customer_id == customer_id
    stmt = select(LedgerEntry).where(mine)
    if window["from_"]:
        stmt = stmt.where(LedgerEntry.date >= window["from_"])
    if window["to"]:
        stmt = stmt.where(LedgerEntry.date <= window["to"])
    next_cursor = None
    if whole:
        rows = list(uow.session.execute(stmt.order_by(LedgerEntry.date, LedgerEntry.id)).scalars())
    else:
        rows, next_cursor = keyset_page(
            uow.session,
            stmt,
            [LedgerEntry.date, LedgerEntry.id],
            limit=window["limit"],
            cursor=window["cursor"],
        )
    if rows:
        before = tuple_(LedgerEntry.date, LedgerEntry.id) < tuple_(rows[0].date, rows[0].id)
    elif window["from_"]:
        before = LedgerEntry.date < window["from_"]
    else:
        before = true()
    opening = int(
        uow.session.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(mine, before)
        ).scalar_one()
    )
    return History(opening, _with_balances(uow, rows, opening, currency), next_cursor)


def _with_balances(
    uow: UnitOfWork, rows: Sequence[LedgerEntry], opening: int, currency: str
) -> list[dict[str, Any]]:
    allocations = payment_allocations(
        uow, [e.payment_id for e in rows if e.type == "payment" and e.payment_id], currency
    )
    running, items = opening, []
    for entry in rows:
        running += entry.amount_minor
        items.append(
            {
                "date": entry.date,
                "type": entry.type,
                "reference": entry.reference,
                "amount": from_minor(entry.amount_minor, currency),
                "balance_after": from_minor(running, currency),
                "invoice_id": entry.invoice_id,
                "payment_id": entry.payment_id,
                "allocations": allocations.get(entry.payment_id or "", [])
                if entry.type == "payment"
                else [],
            }
        )
    return items


def current_profile(uow: UnitOfWork) -> dict[str, Any]:
    """The company profile, or the empty one if none was set (version 0)."""
    return company_or_none(uow) or empty_profile()


def company_or_none(uow: UnitOfWork) -> dict[str, Any] | None:
    """The company profile if an admin has set it (documents leave the seller out before)."""
    row = uow.session.get(CompanyProfile, COMPANY)
    return dict(row.profile) if row is not None else None


def customer_language(uow: UnitOfWork, customer_id: str) -> str:
    """The language the customer's documents are written in (``en`` if unknown)."""
    row = uow.session.execute(
        select(customer_replica.c.snapshot).where(customer_replica.c.id == str(customer_id))
    ).first()
    return str((row.snapshot if row is not None else {}).get("language") or "en")
