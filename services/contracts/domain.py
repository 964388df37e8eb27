"""Contract rules with no I/O: lifecycle transitions, overlapping validity, when an archived
customer's contract ends, and how items, prices and tax treatments are stored."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from shared.money import display_price, to_fixed
from shared.pricing import Contract

PRICE_PLACES = 4  # unit prices: up to 4 decimals, stored as integers of 1/10,000
PERCENT_PLACES = 2  # discounts and tax rates: up to 2 decimals, stored as 1/100 percent
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


def termination_on_archive(
    valid_from: dt.date, valid_to: dt.date | None, archived_on: dt.date
) -> dt.date:
    """The day an active contract of a customer archived on ``archived_on`` ends: that day,
    but within the contract's period (one not started yet ends the day before it would
    have begun; one that ended already keeps its ``valid_to``)."""
    effective = max(archived_on, valid_from - dt.timedelta(days=1))
    return effective if valid_to is None else min(effective, valid_to)


def item_changes(request: Mapping[str, Any]) -> dict[str, Any]:
    """The column values a change to an item asks for: the name trimmed, the unit price in
    1/10,000 units."""
    changes: dict[str, Any] = {}
    if "name" in request:
        changes["name"] = request["name"].strip()
    if "unit_price" in request:
        changes["unit_price_fixed"] = to_fixed(request["unit_price"], PRICE_PLACES)
    for field in ("currency", "tax_code"):
        if field in request:
            changes[field] = request[field]
    return changes


def stored_treatment(treatment: Mapping[str, Any]) -> dict[str, Any]:
    """A contract's tax treatment as stored: its type, the custom rate as text, the note."""
    rate = treatment.get("rate")
    return {
        "type": treatment["type"],
        "rate": None if rate is None else str(rate),
        "note": treatment.get("note"),
    }


def stored_prices(prices: Sequence[Mapping[str, Any]], currency: str) -> list[dict[str, str]]:
    """A contract's special prices as stored: each at least at the currency's places."""
    return [
        {"sku": price["sku"], "unit_price": str(display_price(price["unit_price"], currency))}
        for price in prices
    ]


def shown_rates(rates: Mapping[str, Decimal]) -> dict[str, str]:
    """The tax rate table as the API shows it: each percent with two decimals."""
    return {code: str(rate.quantize(Decimal("0.01"))) for code, rate in rates.items()}
