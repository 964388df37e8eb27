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
    levels: Sequence[Level], due_date: dt.date, as_of: dt.date, highest_sent: int
) -> Level | None:
    """The highest level that has come due by ``as_of`` and is above the highest already sent
    (so each level at most once, never a lower one after a higher; when several fell due
    since the last run, only the highest is sent)."""
    late = (as_of - due_date).days
    reached = [lv for lv in levels if lv.days_after_due <= late]
    if not reached:
        return None
    top = max(reached, key=lambda lv: lv.level)
    return top if top.level > highest_sent else None


def payment_notice_kind(amounts_due: Sequence[str]) -> str:
    """One email per applied payment: a receipt when every invoice it touched is paid."""
    return "payment_receipt" if all(Decimal(due) == 0 for due in amounts_due) else "partial_payment"
