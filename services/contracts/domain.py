"""Contract lifecycle rules with no I/O: transitions and overlapping validity."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from shared.pricing import Contract

TRANSITIONS = {"activate": {"draft"}, "terminate": {"active"}}


class LifecycleError(Exception):
    """A transition the contract's status does not allow (409)."""


def check_transition(action: str, status: str) -> None:
    if status not in TRANSITIONS[action]:
        raise LifecycleError(f"a {status} contract cannot be {action}d")


def overlaps(a: Contract, b: Contract) -> bool:
    """True if the in-force periods of two contracts share a day (None = open-ended)."""
    a_end, b_end = a.ends_on or dt.date.max, b.ends_on or dt.date.max
    return a.valid_from <= b_end and b.valid_from <= a_end


def first_overlap(candidate: Contract, others: Iterable[Contract]) -> Contract | None:
    """An activated contract of the same customer whose period overlaps ``candidate``'s."""
    return next(
        (c for c in others if c.activated and c.id != candidate.id and overlaps(candidate, c)), None
    )


def check_termination(contract: Contract, effective: dt.date) -> None:
    """The termination date lies within the contract's period (a day before valid_from
    would end it before it began)."""
    if effective < contract.valid_from:
        raise ValueError(f"effective must be on or after valid_from {contract.valid_from}")
    if contract.valid_to is not None and effective > contract.valid_to:
        raise ValueError(f"effective must be on or before valid_to {contract.valid_to}")
