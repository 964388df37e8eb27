"""Filling in an invoice from billing's replicas: bill-to and dates from the customer, lines
priced by the catalog, the customer's contract and the tax rates (the one pricing rule in
``shared.pricing``)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from services.billing.domain import CENT
from services.billing.models import (
    Invoice,
    contract_replica,
    customer_replica,
    item_replica,
    tax_rates_replica,
)
from shared.clock import today
from shared.db import UnitOfWork
from shared.money import display_price, to_minor
from shared.pricing import (
    DEFAULT_TAX_RATES,
    CatalogItem,
    Contract,
    LineRequest,
    PricedDocument,
    PricingError,
    price_lines,
)
from shared.replicas import apply_snapshot
from shared.terms import due_date_for
from shared.web.lookups import fetch_owned, replica_customer
from shared.web.problems import Problem, conflict, invalid
from shared.web.schemas import LAST_DAY


def billable_customer(uow: UnitOfWork, customer_id: uuid.UUID | str) -> Any:
    """The customer's replica row; 409 if the customer is archived."""
    customer = replica_customer(uow, customer_replica, uuid.UUID(str(customer_id)))
    if customer.status == "archived":
        raise conflict(f"customer {customer.number} is archived")
    return customer


def price(
    uow: UnitOfWork, customer: Any, lines: list[dict[str, Any]], on: dt.date
) -> PricedDocument:
    """Price requested lines from billing's replicas with the one pricing rule; an item not
    replicated yet is fetched from contracts."""
    skus = {line["sku"] for line in lines}
    items = {
        row.id: CatalogItem.from_snapshot(row.snapshot)
        for row in uow.session.execute(select(item_replica).where(item_replica.c.id.in_(skus)))
    }
    for sku in sorted(skus - items.keys()):
        fetched = fetch_owned("contracts", f"/items/{quote(sku, safe='')}")
        if fetched is not None:
            apply_snapshot(uow, item_replica, sku, 0, {"snapshot": fetched})
            items[sku] = CatalogItem.from_snapshot(fetched)
    contracts = [
        Contract.from_snapshot(_dated(row.snapshot))
        for row in uow.session.execute(
            select(contract_replica).where(contract_replica.c.customer_id == customer.id)
        )
    ]
    requests = [
        LineRequest(
            line["sku"],
            Decimal(str(line["quantity"])),
            None if line.get("unit_price") is None else Decimal(str(line["unit_price"])),
            line.get("description"),
        )
        for line in lines
    ]
    try:
        return price_lines(
            requests,
            currency=customer.currency,
            on=on,
            items=items,
            contracts=contracts,
            tax_rates=_tax_rates(uow),
        )
    except PricingError as exc:
        raise Problem(422, str(exc), errors={exc.field: [exc.message]}) from None


def _tax_rates(uow: UnitOfWork) -> dict[str, Decimal]:
    row = uow.session.execute(select(tax_rates_replica.c.snapshot)).first()
    rates = dict(DEFAULT_TAX_RATES)
    if row is not None:
        rates.update({code: Decimal(rate) for code, rate in row.snapshot["rates"].items()})
    return rates


def _dated(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A contract snapshot from JSON with its dates as dates."""
    out = dict(snapshot)
    for key in ("valid_from", "valid_to", "terminated_on"):
        if out.get(key):
            out[key] = dt.date.fromisoformat(out[key])
    return out


def apply_pricing(invoice: Invoice, priced: PricedDocument) -> None:
    """Write the priced lines and totals onto the invoice."""
    c = priced.currency
    invoice.contract_id = priced.contract_id
    invoice.lines = [
        {
            "sku": line.sku,
            "description": line.description,
            "quantity": str(line.quantity),
            "unit_price": str(display_price(line.unit_price, c)),
            "discount_percent": str(line.discount_percent.quantize(CENT)),
            "net_amount": str(line.net_amount),
            "tax_rate": str(line.tax_rate.quantize(CENT)),
            "tax_amount": str(line.tax_amount),
            "tax_note": line.tax_note,
        }
        for line in priced.lines
    ]
    invoice.subtotal_minor = to_minor(priced.subtotal, c)
    invoice.tax_minor = to_minor(priced.tax_total, c)
    invoice.total_minor = to_minor(priced.total, c)


def bill_to(customer: Any) -> dict[str, Any]:
    snapshot = customer.snapshot
    return {
        "name": snapshot["name"],
        "email": snapshot.get("email"),
        "tax_id": snapshot.get("tax_id"),
        "billing_address": snapshot.get("billing_address"),
    }


def invoice_dates(
    customer: Any, issue: dt.date | None, due: dt.date | None
) -> tuple[dt.date, dt.date]:
    """The issue date (today unless given) and the due date (from the customer's payment
    terms unless given); 422 if the due date would be before the issue date or past
    ``LAST_DAY``."""
    issue = issue or today()
    if due is None:
        try:
            due = due_date_for(customer.payment_terms, issue)
        except OverflowError:
            due = dt.date.max
        if due > LAST_DAY:
            raise invalid(
                "issue_date",
                f"under payment terms {customer.payment_terms} the due date would fall after "
                f"{LAST_DAY}",
            )
    if due < issue:
        raise invalid("due_date", f"{due} is before the issue date {issue}")
    return issue, due
