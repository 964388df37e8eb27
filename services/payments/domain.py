"""Payments' rules with no I/O: which invoices take a payment, numbering, what a refund may
take, and how billing's reports of a payment's allocations combine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

OPEN_STATUSES = ("open", "partially_paid")


def document_number(prefix: str, day: dt.date, seq: int) -> str:
    """``PAY-2026-000001``: the prefix, the year it is dated in, the year's sequence."""
    return f"{prefix}-{day.year}-{seq:06d}"


def over_allocated(requested: Sequence[tuple[str, int]], amount_minor: int) -> bool:
    """Whether the allocations asked for add up to more than the payment."""
    return sum(share for _, share in requested) > amount_minor


def refundable(known_credit_minor: int | None, pending_refunds_minor: int) -> int:
    """The credit a refund may take: billing's last known unapplied credit minus refunds
    it has not reflected yet (negative: the customer owes)."""
    return int(known_credit_minor or 0) - int(pending_refunds_minor)


def allocations_after(
    current: list[dict[str, str]], reported: list[dict[str, str]], *, from_credit: bool
) -> list[dict[str, str]]:
    """A payment's allocations once billing reports more: the payment's own application
    comes first, later uses of its leftover credit after."""
    return [*current, *reported] if from_credit else [*reported, *current]


def reported_allocations(data: dict[str, Any]) -> list[dict[str, str]]:
    """billing's allocations as payments keeps them (ids and amounts as text)."""
    return [
        {"invoice_id": str(a["invoice_id"]), "amount": str(a["amount"])}
        for a in data["allocations"]
    ]
