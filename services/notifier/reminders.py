"""The reminder (dunning) run and the policy it follows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from services.notifier.delivery import queue, render
from services.notifier.domain import DEFAULT_POLICY, Level, reminder_due
from services.notifier.models import Notification, PolicyLevel, customer_replica, invoice_replica
from shared.config import Settings
from shared.db import Database, UnitOfWork
from shared.messaging.worker import Job

OPEN = ("open", "partially_paid")


def current_policy(uow: UnitOfWork) -> list[Level]:
    rows = uow.session.execute(select(PolicyLevel).order_by(PolicyLevel.level)).scalars().all()
    if not rows:
        return [Level(*level) for level in DEFAULT_POLICY]
    return [Level(row.level, row.days_after_due, row.template) for row in rows]


def run_reminders(uow: UnitOfWork, as_of: dt.date) -> list[Notification]:
    """Queue, for every open invoice, the highest level come due and not yet sent; skip
    paid and void invoices and customers with reminders disabled."""
    levels = current_policy(uow)
    invoices = uow.session.execute(
        select(invoice_replica, customer_replica.c.name, customer_replica.c.email)
        .join(customer_replica, customer_replica.c.id == invoice_replica.c.customer_id)
        .where(
            invoice_replica.c.status.in_(OPEN),
            invoice_replica.c.due_date.is_not(None),
            customer_replica.c.reminders_enabled.is_(True),
        )
        .order_by(invoice_replica.c.due_date)
    ).all()
    sent = dict(
        uow.session.execute(
            select(Notification.invoice_id, func.max(Notification.level))
            .where(Notification.kind == "reminder")
            .group_by(Notification.invoice_id)
        ).all()
    )
    queued = []
    for invoice in invoices:
        level = reminder_due(levels, invoice.due_date, as_of, sent.get(invoice.id) or 0)
        if level is None:
            continue
        days_late = (as_of - invoice.due_date).days
        context: dict[str, Any] = {
            "customer_name": invoice.name,
            "invoice": invoice.snapshot,
            "days_late": days_late,
            "template": level.template,
        }
        text, html = render("reminder", context)
        subject = (
            f"Final notice: invoice {invoice.number}"
            if level.template == "final"
            else f"Reminder: invoice {invoice.number}, {invoice.amount_due} {invoice.currency} due"
            + (
                f" on {invoice.due_date}"
                if days_late < 0
                else f", {days_late} day{'' if days_late == 1 else 's'} late"
            )
        )
        notification = queue(
            uow,
            cause=f"reminder:{invoice.id}:{level.level}",
            kind="reminder",
            level=level.level,
            customer_id=invoice.customer_id,
            to=invoice.email,
            subject=subject,
            body=text,
            body_html=html,
            invoice_id=invoice.id,
        )
        if notification is not None:
            queued.append(notification)
    return queued


def _daily(db: Database, as_of: dt.date) -> None:
    with db.unit_of_work() as uow:
        run_reminders(uow, as_of)
        uow.commit()


def deliver(db: Database, settings: Settings) -> int:
    from services.notifier.delivery import deliver_due

    return deliver_due(db, settings)


JOBS = [Job("reminders", _daily, at=dt.time(8, 0))]
