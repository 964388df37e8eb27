"""Payment terms: ``net_N`` (due N days after issue) and ``eom_N`` (N days after the end of
the issue month). Customers validates them; billing computes due dates with them."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

TERMS_PATTERN = re.compile(r"(net|eom)_([0-9]{1,3})")
MAX_TERM_DAYS = 365


@dataclass(frozen=True)
class PaymentTerms:
    kind: str  # "net" or "eom"
    days: int


def parse_terms(value: str) -> PaymentTerms:
    """``net_30`` -> PaymentTerms("net", 30); raises ValueError for anything else."""
    match = TERMS_PATTERN.fullmatch(value)
    if not match or int(match.group(2)) > MAX_TERM_DAYS:
        raise ValueError(
            f"{value!r} is not a payment term: use net_N or eom_N with N from 0 to {MAX_TERM_DAYS}"
        )
    return PaymentTerms(match.group(1), int(match.group(2)))


def end_of_month(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def due_date_for(terms: str, issue_date: dt.date) -> dt.date:
    """The due date of a document issued on ``issue_date`` under ``terms``."""
    parsed = parse_terms(terms)
    start = issue_date if parsed.kind == "net" else end_of_month(issue_date)
    return start + dt.timedelta(days=parsed.days)
