"""Billing rules with no I/O: invoice status, payment allocation, credit-note splits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shared.money import from_minor, to_minor

OPEN_STATUSES = ("open", "partially_paid")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class OpenInvoice:
    id: str
    due_minor: int
    due_date: dt.date
    number: str


def invoice_status(total_minor: int, paid_minor: int, credited_minor: int) -> str:
    """open until something is paid or credited; partially_paid while 0 < due < total;
    paid when nothing is due."""
    due = total_minor - paid_minor - credited_minor
    if due <= 0:
        return "paid"
    if paid_minor == 0 and credited_minor == 0:
        return "open"
    return "partially_paid"


def plan_allocations(
    amount_minor: int,
    requested: Sequence[tuple[str, int | None]],
    open_invoices: Sequence[OpenInvoice],
) -> tuple[list[tuple[str, int]], int]:
    """Where a payment goes: the requested invoices first (each capped at its amount due and
    at what is left), then the customer's other open invoices, oldest due date first; the
    rest is left over as credit (it is not pushed onto a requested invoice beyond what was
    asked for it). ``requested`` amounts of None mean "as much as is due".

    Returns ([(invoice id, amount)], leftover). Never creates or loses a cent.
    """
    due = {invoice.id: invoice.due_minor for invoice in open_invoices}
    left = amount_minor
    plan: dict[str, int] = {}

    def take(invoice_id: str, wanted: int) -> None:
        nonlocal left
        share = min(wanted, due.get(invoice_id, 0) - plan.get(invoice_id, 0), left)
        if share > 0:
            plan[invoice_id] = plan.get(invoice_id, 0) + share
            left -= share

    for invoice_id, wanted in requested:
        take(invoice_id, left if wanted is None else wanted)
    asked = {invoice_id for invoice_id, _ in requested}
    for invoice in sorted(open_invoices, key=lambda i: (i.due_date, i.number)):
        if invoice.id not in asked:  # the rest goes to the customer's *other* open invoices
            take(invoice.id, left)
    return list(plan.items()), left


def split_gross(
    amount_minor: int, weights: Sequence[tuple[Decimal, int]]
) -> list[tuple[Decimal, int]]:
    """Split a gross amount over tax rates in proportion to ``weights`` [(rate, gross)], the
    remainder on the last rate.

    The running total is rounded (half-up), not each share: each share is the step between
    two rounded running totals, so no share takes the other sign than the amount (rounding
    four half cents up each would hand out three cents of two, and take one back from the
    last rate), and each is within a cent of its exact part."""
    total = sum(weight for _, weight in weights)
    parts: list[tuple[Decimal, int]] = []
    running = given = 0
    for index, (rate, weight) in enumerate(weights):
        running += weight
        if index == len(weights) - 1:
            upto = amount_minor
        else:
            exact = Decimal(amount_minor) * running / total if total else Decimal(0)
            upto = int(exact.to_integral_value(rounding=ROUND_HALF_UP))
        parts.append((rate, upto - given))
        given = upto
    return parts


def net_of_gross(gross_minor: int, rate: Decimal) -> int:
    """The net part of a gross amount at ``rate`` percent, half-up; tax is the rest."""
    return int(
        (Decimal(gross_minor) * 100 / (100 + rate)).to_integral_value(rounding=ROUND_HALF_UP)
    )


def days_overdue(due_date: dt.date | None, due_minor: int, as_of: dt.date) -> int:
    """Days past the due date with something still due (the due day itself is not overdue)."""
    if due_date is None or due_minor <= 0 or as_of <= due_date:
        return 0
    return (as_of - due_date).days


def amount_due_minor(status: str, due_minor: int) -> int:
    """What the customer still owes on an invoice: nothing on a void or overpaid one."""
    return 0 if status == "void" else max(due_minor, 0)


def credit_note_lines(
    amount_minor: int,
    currency: str,
    invoice_lines: Sequence[dict[str, Any]] | None,
    tax_rate: Decimal | None,
) -> list[dict[str, str]]:
    """The lines of a credit note of ``amount_minor`` (gross): against an invoice, split over
    the invoice's tax rates in proportion to each rate's gross; standalone, one line at
    ``tax_rate`` (none: 0 %). Each line's net and tax sum to its gross."""
    if invoice_lines is None:
        parts = [(tax_rate or Decimal(0), amount_minor)]
    else:
        weights: dict[Decimal, int] = {}
        for line in invoice_lines:
            gross = to_minor(Decimal(line["net_amount"]) + Decimal(line["tax_amount"]), currency)
            rate = Decimal(line["tax_rate"])
            weights[rate] = weights.get(rate, 0) + gross
        parts = split_gross(amount_minor, sorted(weights.items()))
    lines = []
    for rate, gross in parts:
        net = net_of_gross(gross, rate)
        lines.append(
            {
                "tax_rate": str(rate.quantize(CENT)),
                "net_amount": str(from_minor(net, currency)),
                "tax_amount": str(from_minor(gross - net, currency)),
            }
        )
    return lines


ADDRESS_FIELDS = ("line1", "line2", "city", "postal_code", "region", "country")
TEXT_FIELDS = ("tax_id", "reply_to", "phone", "iban", "bic", "payment_instructions")
DEFAULT_LANGUAGE = "en"


def empty_profile() -> dict[str, Any]:
    """The company profile before an admin has set it (version 0)."""
    return {
        "name": None,
        "address": dict.fromkeys(ADDRESS_FIELDS),
        "email": None,
        **dict.fromkeys(TEXT_FIELDS),
        "language": DEFAULT_LANGUAGE,
        "version": 0,
        "updated_at": None,
    }


def company_profile(changes: dict[str, Any], version: int, updated_at: str) -> dict[str, Any]:
    """The whole profile from ``changes`` (validated by the API): every field present, the
    address complete, the language defaulted."""
    address = changes.get("address") or {}
    return {
        "name": changes["name"],
        "address": {name: address.get(name) for name in ADDRESS_FIELDS},
        "email": changes["email"],
        **{name: changes.get(name) for name in TEXT_FIELDS},
        "language": changes.get("language") or DEFAULT_LANGUAGE,
        "version": version,
        "updated_at": updated_at,
    }
