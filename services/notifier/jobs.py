"""Notifier's background work: the daily reminder run and the delivery loop."""

from __future__ import annotations

import datetime as dt

from services.notifier.commands import run_reminders
from services.notifier.delivery import deliver_due
from shared.db import Database
from shared.messaging.worker import Job, Loop


def _daily_reminders(db: Database, as_of: dt.date) -> None:
    with db.unit_of_work() as uow:
        run_reminders(uow, as_of)
        uow.commit()


JOBS = [Job("reminders", _daily_reminders, at=dt.time(8, 0))]
LOOPS = (Loop("delivery", deliver_due, every=1.0),)
