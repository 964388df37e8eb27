"""Billing's scheduled work: the daily overdue report."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from services.billing.accounts import OPEN_STATUSES
from services.billing.domain import days_overdue
from services.billing.models import Invoice
from shared.db import Database, UnitOfWork
from shared.messaging.worker import Job
from shared.money import from_minor


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
        uow.emit(
            "billing.invoice.overdue",
            str(invoice.id),
            {
                "invoice_id": str(invoice.id),
                "customer_id": invoice.customer_id,
                "due_date": invoice.due_date,
                "amount_due": from_minor(invoice.due_minor, invoice.currency),
                "currency": invoice.currency,
                "as_of": as_of,
                "number": invoice.number,
                "days_overdue": days_overdue(invoice.due_date, invoice.due_minor, as_of),
            },
        )
        reported.append(invoice.number or str(invoice.id))
    return reported


def _daily_overdue(db: Database, as_of: dt.date) -> None:
    with db.unit_of_work() as uow:
        report_overdue(uow, as_of)
        uow.commit()


JOBS = [Job("overdue", _daily_overdue, at=dt.time(0, 30))]
