"""Billing's scheduled work: the daily overdue report."""

from __future__ import annotations

import datetime as dt

from services.billing.commands import report_overdue
from shared.db import Database
from shared.messaging.worker import Job


def _daily_overdue(db: Database, as_of: dt.date) -> None:
    with db.unit_of_work() as uow:
        report_overdue(uow, as_of)
        uow.commit()


JOBS = [Job("overdue", _daily_overdue, at=dt.time(0, 30))]
