"""Notifier's reads: the customers and invoices its emails speak of (as replicated), who
reads an email, the reminder policy, the reminders sent so far and the invoices a reminder
run looks at, and notifications by id."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select

from services.notifier.domain import DEFAULT_POLICY, OPEN_STATUSES, Level, language_of
from services.notifier.models import (
    Notification,
    PolicyLevel,
    company_replica,
    customer_replica,
    invoice_replica,
)
from services.notifier.wording import Reader
from shared.db import UnitOfWork
from shared.messaging import NotYetKnown
from shared.replicas import COMPANY, company_profile


def company(uow: UnitOfWork) -> dict[str, Any] | None:
    """The seller: the company profile as replicated, None before billing published one."""
    return company_profile(uow, company_replica)


# The seller's profile beside a customer row, so that one read gives an email's reader.
SELLER = select(company_replica.c.snapshot).where(company_replica.c.id == COMPANY).scalar_subquery()


RECIPIENT = select(
    customer_replica.c.id,
    customer_replica.c.name,
    customer_replica.c.email,
    customer_replica.c.snapshot,
    SELLER.label("company"),
).where(customer_replica.c.id == bindparam("customer_id"))
INVOICES = select(invoice_replica.c.id, invoice_replica.c.snapshot).where(
    invoice_replica.c.id.in_(bindparam("ids", expanding=True))
)
# Most payments pay one invoice: an IN list is rendered anew for every execution.
INVOICE = select(invoice_replica.c.id, invoice_replica.c.snapshot).where(
    invoice_replica.c.id == bindparam("id")
)


def recipient(uow: UnitOfWork, customer_id: str) -> tuple[Any, Reader]:
    """The customer's replica row and who reads an email to them (their name and language,
    signed by the seller as replicated now), in one read; NotYetKnown before the customer's
    event has come."""
    row = uow.connection().execute(RECIPIENT, {"customer_id": customer_id}).first()
    if row is None:
        raise NotYetKnown(f"customer {customer_id} not seen yet")
    return row, _reader(row)


def _reader(row: Any) -> Reader:
    company = dict(row.company) if row.company is not None else None
    return Reader(row.name, language_of(row.snapshot), company)


# The recipient with the one invoice a payment paid (most do), in one read.
RECIPIENT_AND_INVOICE = select(
    *RECIPIENT.selected_columns,
    select(invoice_replica.c.snapshot)
    .where(invoice_replica.c.id == bindparam("invoice_id"))
    .scalar_subquery()
    .label("invoice"),
).where(customer_replica.c.id == bindparam("customer_id"))


def recipient_and_invoices(
    uow: UnitOfWork, customer_id: str, ids: Sequence[str]
) -> tuple[Any, Reader, dict[str, dict[str, Any]]]:
    """What :func:`recipient` and :func:`invoices` answer (and raise), in one read when
    there is one invoice: a statement is a tenth of a payment notice's CPU."""
    if len(ids) == 1:
        values = {"customer_id": customer_id, "invoice_id": ids[0]}
        row = uow.connection().execute(RECIPIENT_AND_INVOICE, values).first()
        if row is not None and row.invoice is not None:
            return row, _reader(row), {ids[0]: dict(row.invoice)}
    found = invoices(uow, ids)  # raises NotYetKnown for the invoice first, as before
    customer, reader = recipient(uow, customer_id)
    return customer, reader, found


READERS = select(customer_replica.c.id, customer_replica.c.name, customer_replica.c.snapshot).where(
    customer_replica.c.id.in_(bindparam("ids", expanding=True))
)


def readers(
    uow: UnitOfWork, customer_ids: Collection[str], company: dict[str, Any] | None
) -> dict[str, Reader]:
    """Who reads an email to each of ``customer_ids`` that is known, signed by ``company``
    (the seller as replicated now), in one read."""
    rows = uow.session.execute(READERS, {"ids": list(customer_ids)})
    return {row.id: Reader(row.name, language_of(row.snapshot), company) for row in rows}


def known_invoices(uow: UnitOfWork, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The invoices among ``ids`` seen so far, by id, as their replicas last heard."""
    if len(ids) == 1:
        rows = uow.connection().execute(INVOICE, {"id": ids[0]})
    else:
        rows = uow.connection().execute(INVOICES, {"ids": list(ids)})
    return {row.id: dict(row.snapshot) for row in rows}


def invoices(uow: UnitOfWork, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The invoices ``ids`` by id, as their replicas last heard; NotYetKnown for one not
    seen yet."""
    found = known_invoices(uow, ids)
    for invoice_id in ids:
        if invoice_id not in found:
            raise NotYetKnown(f"invoice {invoice_id} not seen yet")
    return found


def current_policy(uow: UnitOfWork) -> list[Level]:
    """The reminder levels in order: the defaults until a policy is set."""
    rows = uow.session.execute(select(PolicyLevel).order_by(PolicyLevel.level)).scalars().all()
    if not rows:
        return [Level(*level) for level in DEFAULT_POLICY]
    return [Level(row.level, row.days_after_due, row.template) for row in rows]


def last_reminders(uow: UnitOfWork) -> dict[str, tuple[int, dt.date]]:
    """Per invoice, the highest reminder level sent and the business day of the run that
    sent it (the day it was queued for reminders from before that was recorded)."""
    rows = uow.session.execute(
        select(
            Notification.invoice_id,
            Notification.level,
            Notification.business_date,
            Notification.created_at,
        ).where(Notification.kind == "reminder")
    ).all()
    last: dict[str, tuple[int, dt.date]] = {}
    for invoice_id, level, business_date, created_at in rows:
        if invoice_id is None or level is None:
            continue
        if level > last.get(invoice_id, (0, dt.date.min))[0]:
            last[invoice_id] = (level, business_date or created_at.date())
    return last


def remindable_invoices(uow: UnitOfWork) -> Sequence[Row[Any]]:
    """The open invoices with a due date whose customer takes reminders, earliest due first:
    each invoice replica's columns with the customer's ``name``, ``email`` and snapshot (as
    ``customer``)."""
    return uow.session.execute(
        select(
            invoice_replica,
            customer_replica.c.name,
            customer_replica.c.email,
            customer_replica.c.snapshot.label("customer"),
        )
        .join(customer_replica, customer_replica.c.id == invoice_replica.c.customer_id)
        .where(
            invoice_replica.c.status.in_(OPEN_STATUSES),
            invoice_replica.c.due_date.is_not(None),
            customer_replica.c.reminders_enabled.is_(True),
        )
        .order_by(invoice_replica.c.due_date)
    ).all()


def notifications(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> list[Notification]:
    """The notifications ``ids``."""
    stmt = select(Notification).where(Notification.id.in_(list(ids)))
    return list(uow.session.execute(stmt).scalars())
