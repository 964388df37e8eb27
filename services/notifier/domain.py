"""Notifier rules with no I/O: which reminder level is due, receipt or partial notice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

DEFAULT_POLICY = (
    (1, -3, "upcoming"),
    (2, 1, "first"),
    (3, 7, "second"),
    (4, 14, "third"),
    (5, 30, "final"),
)
TEMPLATES = ("upcoming", "first", "second", "third", "final")


@dataclass(frozen=True)
class Level:
    level: int
    days_after_due: int
    template: str


def check_policy(levels: Sequence[Level]) -> None:
    """Levels are 1..n and their days rise with them; raises ValueError otherwise."""
    if [lv.level for lv in levels] != list(range(1, len(levels) + 1)):
        raise ValueError("levels must be numbered 1..n in order")
    days = [lv.days_after_due for lv in levels]
    if days != sorted(days) or len(set(days)) != len(days):
        raise ValueError("days_after_due must rise with the level")


def reminder_due(
    levels: Sequence[Level],
    due_date: dt.date,
    as_of: dt.date,
    highest_sent: int,
    last_sent_on: dt.date | None = None,
) -> Level | None:
    """The next level in order, if it is due by ``as_of``: level 1 first, once its day has
    come; level n+1 once its own day has come and no sooner than (its days_after_due - level
    n's) days after level n was sent (``last_sent_on``). At most one level per run, so an
    invoice entered long overdue starts at level 1, never with a final notice."""
    by_number = {lv.level: lv for lv in levels}
    following = by_number.get(highest_sent + 1)
    if following is None or (as_of - due_date).days < following.days_after_due:
        return None
    previous = by_number.get(highest_sent)
    if previous is not None and last_sent_on is not None:
        gap = following.days_after_due - previous.days_after_due
        if (as_of - last_sent_on).days < gap:
            return None
    return following


def payment_notice_kind(amounts_due: Sequence[str]) -> str:
    """One email per applied payment: a receipt when every invoice it touched is paid."""
    return "payment_receipt" if all(Decimal(due) == 0 for due in amounts_due) else "partial_payment"
