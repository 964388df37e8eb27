"""The reminder (dunning) run and the policy it follows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from services.notifier.delivery import deliver_due, queue
from services.notifier.domain import DEFAULT_POLICY, Level, reminder_due
from services.notifier.models import (
    Notification,
    PolicyLevel,
    company_replica,
    customer_replica,
    invoice_replica,
)
from services.notifier.notices import NothingToSay, Reader, reminder_notice
from services.notifier.wording import LANGUAGES
from shared.config import Settings
from shared.db import Database, UnitOfWork
from shared.messaging.worker import Job
from shared.replicas import company_profile

OPEN = ("open", "partially_paid")


def language_of(row: Any) -> str:
    """The language of a reminder's customer (its replica snapshot, joined as ``customer``)."""
    language = (row.customer or {}).get("language")
    return str(language) if language in LANGUAGES else "en"


def current_policy(uow: UnitOfWork) -> list[Level]:
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


def run_reminders(uow: UnitOfWork, as_of: dt.date) -> list[Notification]:
    """Queue, for every open invoice, the next reminder level in order if it is due
    (domain.reminder_due); skip paid and void invoices and customers with reminders
    disabled."""
    levels = current_policy(uow)
    invoices = uow.session.execute(
        select(
            invoice_replica,
            customer_replica.c.name,
            customer_replica.c.email,
            customer_replica.c.snapshot.label("customer"),
        )
        .join(customer_replica, customer_replica.c.id == invoice_replica.c.customer_id)
        .where(
            invoice_replica.c.status.in_(OPEN),
            invoice_replica.c.due_date.is_not(None),
            customer_replica.c.reminders_enabled.is_(True),
        )
        .order_by(invoice_replica.c.due_date)
    ).all()
    sent = last_reminders(uow)
    company = company_profile(uow, company_replica)
    queued = []
    for invoice in invoices:
        highest, sent_on = sent.get(invoice.id, (0, None))
        level = reminder_due(levels, invoice.due_date, as_of, highest, sent_on)
        if level is None:
            continue
        facts = {
            "invoice_id": invoice.id,
            "template": level.template,
            "days_late": (as_of - invoice.due_date).days,
            "as_of": as_of.isoformat(),
        }
        reader = Reader(invoice.name, language_of(invoice), company)
        try:
            written = reminder_notice(facts, dict(invoice.snapshot), reader)
        except NothingToSay:
            continue  # the replica's status and its amount disagree: nothing to remind of
        notification = queue(
            uow,
            cause=f"reminder:{invoice.id}:{level.level}",
            kind="reminder",
            level=level.level,
            business_date=as_of,
            customer_id=invoice.customer_id,
            to=invoice.email,
            subject=written.subject,
            body=written.text,
            body_html=written.html,
            invoice_id=invoice.id,
            facts=facts,
        )
        if notification is not None:
            queued.append(notification)
    return queued


def _daily(db: Database, as_of: dt.date) -> None:
    with db.unit_of_work() as uow:
        run_reminders(uow, as_of)
        uow.commit()


def deliver(db: Database, settings: Settings) -> int:
    return deliver_due(db, settings)


JOBS = [Job("reminders", _daily, at=dt.time(8, 0))]
