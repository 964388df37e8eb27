"""Reports computed from the read models, as of any date, amounts per currency."""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from services.reporting.domain import REVENUE_FIGURES, behaviour_figures, revenue_figures
from services.reporting.models import (
    INVOICE_KINDS,
    DayBalance,
    Movement,
    ReportBalance,
    ReportCustomer,
    ReportInvoice,
    kind_in,
)
from shared.db import UnitOfWork
from shared.money import exponent, from_minor

BUCKETS = ("current", "d1_30", "d31_60", "d61_90", "d90_plus")


def _due_as_of(as_of: dt.date) -> Any:
    """What an invoice still owed on ``as_of``: its total less what its applied and unapplied
    movements dated up to then settled. The kept figures answer without the movements unless
    ``as_of`` falls between the first and the last movement's dates."""
    settled_by_then = (
        select(func.coalesce(-func.sum(Movement.amount_minor), 0))
        .where(
            Movement.invoice_id == ReportInvoice.id,
            kind_in(INVOICE_KINDS),
            Movement.date <= as_of,
        )
        .scalar_subquery()
    )
    return ReportInvoice.total_minor - case(
        (or_(ReportInvoice.first_settled_on.is_(None), ReportInvoice.first_settled_on > as_of), 0),
        (ReportInvoice.last_settled_on <= as_of, ReportInvoice.settled_minor),
        else_=settled_by_then,
    )


def _counts_on(as_of: dt.date) -> Any:
    """Issued by ``as_of`` and not void by then."""
    return and_(
        ReportInvoice.issue_date <= as_of,
        or_(ReportInvoice.void_on.is_(None), ReportInvoice.void_on > as_of),
    )


def invoice_dues(
    uow: UnitOfWork, as_of: dt.date, currency: str | None = None
) -> list[tuple[ReportInvoice, int]]:
    """Every invoice issued and not void by ``as_of`` with what was still due on that day."""
    stmt = select(ReportInvoice, _due_as_of(as_of)).where(_counts_on(as_of))
    if currency:
        stmt = stmt.where(ReportInvoice.currency == currency)
    return [(invoice, int(due)) for invoice, due in uow.session.execute(stmt)]


def balances(uow: UnitOfWork, as_of: dt.date) -> dict[tuple[str, str], int]:
    """(customer, currency) -> balance on ``as_of`` (positive: the customer owes), for every
    customer with account movements (zero for those whose first one came later).

    The kept balance if nothing moved after ``as_of``; otherwise the closing balance of the
    last day up to ``as_of`` with a movement (one index look-up per customer)."""
    closing = (
        select(DayBalance.balance_minor)
        .where(
            DayBalance.customer_id == ReportBalance.customer_id,
            DayBalance.currency == ReportBalance.currency,
            DayBalance.date <= as_of,
        )
        .order_by(DayBalance.date.desc())
        .limit(1)
        .scalar_subquery()
    )
    balance = case(
        (ReportBalance.last_moved_on <= as_of, ReportBalance.balance_minor),
        else_=func.coalesce(closing, 0),
    )
    rows = uow.session.execute(select(ReportBalance.customer_id, ReportBalance.currency, balance))
    return {(customer, currency): int(total) for customer, currency, total in rows}


@functools.cache
def _amounts_in(currency: str) -> Callable[[int], Decimal]:
    """``from_minor`` for one currency, its places looked up once: a report over 10,000
    customers converts 80,000 amounts, and the look-up was most of the cost. (An integer
    scaled by -places already has exactly the currency's places: no quantize needed.)"""
    places = exponent(currency)
    zero = Decimal(0).scaleb(-places)  # most buckets of most customers: one shared value

    def amount(minor: int) -> Decimal:
        return Decimal(minor).scaleb(-places) if minor else zero

    return amount


def _names(uow: UnitOfWork) -> dict[str, str]:
    return dict(uow.session.execute(select(ReportCustomer.id, ReportCustomer.name)).all())


def _per_currency(rows: list[dict[str, Any]], fields: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Totals per currency (amounts are never summed across currencies)."""
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        into = totals.setdefault(str(row["currency"]), dict.fromkeys(fields, 0))
        for name in fields:
            into[name] += row[name]
    return totals


def aged_dues(
    uow: UnitOfWork, as_of: dt.date, currency: str | None
) -> dict[tuple[str, str], dict[str, int]]:
    """(customer, currency) -> amount due per aging bucket on ``as_of``, summed in SQL.

    Buckets are ranges of due dates (portable date comparisons, no date arithmetic in SQL):
    current = due on or after ``as_of``, d1_30 = due 1 to 30 days before it, and so on.
    Invoices that owed nothing on ``as_of`` (settled for good by then) are not looked at.
    """
    day = dt.timedelta(days=1)
    bucket = case(  # the index into BUCKETS
        (ReportInvoice.due_date >= as_of, 0),
        (ReportInvoice.due_date >= as_of - 30 * day, 1),
        (ReportInvoice.due_date >= as_of - 60 * day, 2),
        (ReportInvoice.due_date >= as_of - 90 * day, 3),
        else_=4,
    )
    invoices = select(
        ReportInvoice.customer_id,
        ReportInvoice.currency,
        bucket.label("bucket"),
        _due_as_of(as_of).label("due"),
    ).where(
        _counts_on(as_of),
        or_(ReportInvoice.cleared_on.is_(None), ReportInvoice.cleared_on > as_of),
    )
    if currency:
        invoices = invoices.where(ReportInvoice.currency == currency)
    # Computed once, then grouped: otherwise PostgreSQL may walk the invoices in customer
    # order through an index, far slower than reading them in a row.
    owing = invoices.cte("owing").prefix_with("MATERIALIZED", dialect="postgresql")
    stmt = select(
        owing.c.customer_id, owing.c.currency, owing.c.bucket, func.sum(owing.c.due)
    ).group_by(owing.c.customer_id, owing.c.currency, owing.c.bucket)
    result: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(BUCKETS, 0))
    for customer_id, cur, index, due in uow.session.execute(stmt):
        if due:
            result[(customer_id, cur)][BUCKETS[index]] = int(due)
    return result


def aging(uow: UnitOfWork, as_of: dt.date, currency: str | None) -> dict[str, Any]:
    """Amounts due per customer in buckets of days past due on ``as_of``; ``balance`` is what
    the account said that day (the buckets' total minus unapplied credit)."""
    names = _names(uow)
    buckets = aged_dues(uow, as_of, currency)
    account = {
        k: v for k, v in balances(uow, as_of).items() if currency is None or k[1] == currency
    }
    keys = set(buckets) | {k for k, v in account.items() if v}
    items = []
    for customer_id, cur in sorted(keys, key=lambda k: (names.get(k[0]) or "", k)):
        amount = _amounts_in(cur)
        due_by_bucket = buckets[(customer_id, cur)]
        total = sum(due_by_bucket.values())
        balance = account.get((customer_id, cur), 0)
        figures = {
            **due_by_bucket,
            "total": total,
            "unapplied_credit": total - balance,
            "balance": balance,
        }
        items.append(
            {
                "customer_id": customer_id,
                "customer_name": names.get(customer_id),
                "currency": cur,
                **{name: amount(value) for name, value in figures.items()},
            }
        )
    fields = (*BUCKETS, "total", "unapplied_credit", "balance")
    return {
        "as_of": as_of,
        "currency": currency,
        "items": items,
        "totals": _per_currency(items, fields),
    }


def outstanding(uow: UnitOfWork, as_of: dt.date, currency: str | None) -> dict[str, Any]:
    """Per customer: balance, overdue amount, the oldest overdue invoice's days, credit."""
    names = _names(uow)
    overdue: dict[tuple[str, str], int] = defaultdict(int)
    oldest: dict[tuple[str, str], int] = defaultdict(int)
    open_due: dict[tuple[str, str], int] = defaultdict(int)
    for invoice, due in invoice_dues(uow, as_of, currency):
        key = (invoice.customer_id, invoice.currency)
        open_due[key] += due
        late = (as_of - invoice.due_date).days
        if due > 0 and late > 0:
            overdue[key] += due
            oldest[key] = max(oldest[key], late)
    items = []
    account = balances(uow, as_of)
    for key in sorted(account, key=lambda k: (names.get(k[0]) or "", k)):
        customer_id, cur = key
        balance = account[key]
        if (currency and cur != currency) or (balance == 0 and open_due[key] == 0):
            continue
        items.append(
            {
                "customer_id": customer_id,
                "customer_name": names.get(customer_id),
                "currency": cur,
                "balance": from_minor(balance, cur),
                "overdue": from_minor(overdue[key], cur),
                "oldest_overdue_days": oldest[key],
                "unapplied_credit": from_minor(open_due[key] - balance, cur),
            }
        )
    fields = ("balance", "overdue", "unapplied_credit")
    return {
        "as_of": as_of,
        "currency": currency,
        "items": items,
        "totals": _per_currency(items, fields),
    }


def revenue(uow: UnitOfWork, start: dt.date, end: dt.date, group_by: str) -> dict[str, Any]:
    """Revenue in the period, per customer or month: invoices by issue date, credit notes,
    payments, reversals and refunds by their dates (see the README for each figure)."""
    names = _names(uow)
    sums: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(
            ("invoiced", "invoiced_tax", "credited_gross", "credited_tax", "received", "refunded"),
            0,
        )
    )

    def key(customer_id: str, day: dt.date, currency: str) -> tuple[str, str]:
        return (customer_id if group_by == "customer" else day.strftime("%Y-%m"), currency)

    # A voided invoice is not revenue, whenever it was voided.
    for invoice in uow.session.execute(
        select(ReportInvoice).where(
            ReportInvoice.issue_date.between(start, end), ReportInvoice.void_on.is_(None)
        )
    ).scalars():
        row = sums[key(invoice.customer_id, invoice.issue_date, invoice.currency)]
        row["invoiced"] += invoice.net_minor
        row["invoiced_tax"] += invoice.tax_minor
    for movement in uow.session.execute(
        select(Movement).where(
            and_(
                Movement.kind.in_(("credit_note", "payment", "reversal", "refund")),
                Movement.date.between(start, end),
            )
        )
    ).scalars():
        row = sums[key(movement.customer_id, movement.date, movement.currency)]
        if movement.kind == "credit_note":
            row["credited_gross"] -= movement.amount_minor
            row["credited_tax"] -= movement.tax_minor
        elif movement.kind == "refund":
            row["refunded"] += movement.amount_minor
        else:  # a payment is negative on the account, its reversal positive
            row["received"] -= movement.amount_minor
    items = []
    for (group, cur), row in sorted(sums.items()):
        label: dict[str, Any] = (
            {"customer_id": group, "customer_name": names.get(group)}
            if group_by == "customer"
            else {"month": group}
        )
        figures = revenue_figures(**row)
        items.append(
            {**label, "currency": cur, **{k: from_minor(v, cur) for k, v in figures.items()}}
        )
    return {
        "from": start,
        "to": end,
        "group_by": group_by,
        "items": items,
        "totals": _per_currency(items, REVENUE_FIGURES),
    }


def _settlements(uow: UnitOfWork) -> dict[str, list[Movement]]:
    moves: dict[str, list[Movement]] = defaultdict(list)
    for movement in uow.session.execute(
        select(Movement).where(kind_in(INVOICE_KINDS)).order_by(Movement.date, Movement.id)
    ).scalars():
        moves[str(movement.invoice_id)].append(movement)
    return moves


def paid_on(invoice: ReportInvoice, moves: list[Movement]) -> tuple[dt.date | None, list[Movement]]:
    """(the date the invoice was settled for good, or None; the applications that left it
    partly paid). A reversal that re-opens it clears the date."""
    settled, partial, day = 0, [], None
    for movement in moves:
        settled -= movement.amount_minor
        if settled >= invoice.total_minor:
            day = day or movement.date
        else:
            day = None
            if movement.kind == "applied" and settled > 0:
                partial.append(movement)
    return day, partial


def _payments(uow: UnitOfWork, end: dt.date) -> tuple[set[str], set[str]]:
    """(ids of the payments received by ``end``, ids of those reversed by then)."""
    rows = uow.session.execute(
        select(Movement.kind, Movement.source_id).where(
            Movement.kind.in_(("payment", "reversal")),
            Movement.date <= end,
            Movement.source_id.is_not(None),
        )
    ).all()
    received = {str(source) for kind, source in rows if kind == "payment"}
    reversed_ = {str(source) for kind, source in rows if kind == "reversal"}
    return received, reversed_


def _fresh_row() -> dict[str, Any]:
    return {
        "days_to_pay": [],
        "days_late": [],
        "partial": set(),
        "open_overdue": 0,
        "invoiced": 0,
        "open": 0,
    }


def _behaviour_rows(
    uow: UnitOfWork, start: dt.date, end: dt.date
) -> dict[tuple[str, str], dict[str, Any]]:
    """Per customer and currency: days to pay and days late of the invoices paid in the
    period, the payments that left one partly paid, what was invoiced in it, what is open
    (and how many overdue) at its end."""
    moves = _settlements(uow)
    received, reversed_ = _payments(uow, end)
    counted = received - reversed_
    stats: dict[tuple[str, str], dict[str, Any]] = defaultdict(_fresh_row)
    invoices = uow.session.execute(
        select(ReportInvoice).where(
            or_(ReportInvoice.void_on.is_(None), ReportInvoice.void_on > end)
        )
    ).scalars()
    for invoice in invoices:
        row = stats[(invoice.customer_id, invoice.currency)]
        day, partial = paid_on(invoice, [m for m in moves.get(invoice.id, []) if m.date <= end])
        row["partial"].update(
            m.source_id for m in partial if m.source_id in counted and m.date >= start
        )
        if day is not None and start <= day <= end:
            row["days_to_pay"].append((day - invoice.issue_date).days)
            row["days_late"].append(max(0, (day - invoice.due_date).days))
        if start <= invoice.issue_date <= end:
            row["invoiced"] += invoice.total_minor
    for invoice, due in invoice_dues(uow, end):
        row = stats[(invoice.customer_id, invoice.currency)]
        row["open"] += due
        if due > 0 and invoice.due_date < end:
            row["open_overdue"] += 1
    return stats


def payment_behavior(uow: UnitOfWork, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Per customer and over all customers (per currency), over invoices fully paid in the
    period: invoices_paid, avg_days_to_pay, avg_days_late, on_time_rate, partial_payments
    (payments not reversed by ``to`` that left an invoice partly paid in the period),
    open_overdue; and DSO = receivable open at ``to`` / invoiced (tax included) in the
    period x days in the period."""
    names = _names(uow)
    stats = _behaviour_rows(uow, start, end)
    days = (end - start).days + 1
    items = []
    totals: dict[str, dict[str, Any]] = defaultdict(_fresh_row)
    for (customer_id, cur), row in sorted(
        stats.items(), key=lambda kv: (names.get(kv[0][0]) or "", kv[0])
    ):
        total = totals[cur]
        for name in ("days_to_pay", "days_late"):
            total[name] += row[name]
        total["partial"] |= row["partial"]
        for name in ("open_overdue", "invoiced", "open"):
            total[name] += row[name]
        items.append(
            {
                "customer_id": customer_id,
                "customer_name": names.get(customer_id),
                "currency": cur,
                **behaviour_figures(row, days),
            }
        )
    return {
        "from": start,
        "to": end,
        "items": items,
        "totals": {cur: behaviour_figures(row, days) for cur, row in sorted(totals.items())},
    }
