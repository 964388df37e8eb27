"""Notifier rules with no I/O: the reminder policy and which level is due, which events call
for an email, the figures a notice states, and when a delivery is tried again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

DEFAULT_POLICY = (
    (1, -3, "upcoming"),
    (2, 1, "first"),
    (3, 7, "second"),
    (4, 14, "third"),
    (5, 30, "final"),
)
TEMPLATES = ("upcoming", "first", "second", "third", "final")
OPEN_STATUSES = ("open", "partially_paid")
LANGUAGES = ("en", "el")
MAX_ATTEMPTS = 5  # a delivery that failed this often is failed for good
# The notices whose figures are the invoices their payment's allocations name.
PAYMENT_KINDS = ("payment_receipt", "partial_payment", "payment_reversed")


@dataclass(frozen=True)
class Level:
    level: int
    days_after_due: int
    template: str


# -- reminders ------------------------------------------------------------------------------


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


def nothing_due(status: str, amount_due: str) -> bool:
    """Whether an invoice asks nothing any more (paid, void, credited off): no reminder of
    it may go."""
    return status not in OPEN_STATUSES or Decimal(amount_due) <= 0


def reminder_subject(template: str, days_late: int) -> str:
    """The subject a reminder takes: the final notice's, one before the due date (negative
    ``days_late``), or one saying how late."""
    if template == "final":
        return "reminder_final"
    return "reminder_upcoming" if days_late < 0 else "reminder_late"


# -- which events call for an email ---------------------------------------------------------


def is_history(data: Mapping[str, Any]) -> bool:
    """An invoice, payment, credit note or refund entered as history (``notify: false``):
    the customer had it long ago, so nothing is sent."""
    return data.get("notify") is False


def payment_calls_for_notice(data: Mapping[str, Any]) -> bool:
    """One email per payment applied as it came in; none for credit used on a later invoice
    (``from_credit``: that invoice's email tells the story) nor for a payment entered as
    history."""
    return not data.get("from_credit") and not is_history(data)


def reversal_took_back(allocations: Sequence[Mapping[str, Any]], unapplied: Any) -> bool:
    """Whether a reversed payment took anything back (an invoice re-opened, credit removed);
    a reversal that took nothing back sends nothing."""
    return allocated(allocations) != 0 or Decimal(unapplied or 0) != 0


# -- the figures of a notice ----------------------------------------------------------------


def allocated(allocations: Sequence[Mapping[str, Any]]) -> Decimal:
    """What a payment's allocations put on invoices, together."""
    return sum((Decimal(a["amount"]) for a in allocations), Decimal(0))


def allocated_invoices(facts: Mapping[str, Any]) -> list[str]:
    """The invoices a payment's allocations name, in their order."""
    return [str(a["invoice_id"]) for a in facts.get("allocations", [])]


def invoices_named(kind: str, facts: Mapping[str, Any], invoice_id: str | None) -> list[str]:
    """The invoices whose figures a notification of ``kind`` states."""
    if kind in PAYMENT_KINDS:
        return allocated_invoices(facts)
    if kind == "reminder" and invoice_id:
        return [invoice_id]
    return []


def payment_notice_kind(amounts_due: Sequence[str]) -> str:
    """One email per applied payment: a receipt when every invoice it touched is paid."""
    return "payment_receipt" if all(Decimal(due) == 0 for due in amounts_due) else "partial_payment"


def zero_like(amount: str) -> str:
    """Zero written with as many decimals as ``amount`` ("0.00" beside "12.50")."""
    places = len(amount.partition(".")[2])
    return "0." + "0" * places if places else "0"


def language_of(snapshot: Any) -> str:
    """A customer's language from their replicated snapshot: ``en`` unless it names another
    language the emails are written in."""
    language = snapshot.get("language") if isinstance(snapshot, Mapping) else None
    return str(language) if language in LANGUAGES else "en"


# -- delivery -------------------------------------------------------------------------------


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed try: 5 s, doubling, at most 10 min."""
    return dt.timedelta(seconds=min(5 * 2 ** (attempts - 1), 600))


def waiting_delay(waited: dt.timedelta) -> dt.timedelta:
    """The wait of an email whose document is away, after ``waited`` since it was queued:
    a quarter of it, 5 s to 10 min."""
    return min(max(waited / 4, dt.timedelta(seconds=5)), dt.timedelta(minutes=10))


def status_after_attempt(failed: bool, attempts: int, *, final: bool = False) -> str:
    """An email's status after its ``attempts``-th try: ``sent``; after a failure ``failed``
    once it can never go (``final``) or has failed MAX_ATTEMPTS times, else ``queued`` to be
    tried again."""
    if not failed:
        return "sent"
    return "failed" if final or attempts >= MAX_ATTEMPTS else "queued"
