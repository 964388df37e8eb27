"""The contracts service's reads: items, contracts and the tax rate table (or 404), the
API's answers, and quotes priced by the customer's contract in force."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from services.contracts import events
from services.contracts.domain import PERCENT_PLACES
from services.contracts.models import Contract, Item, TaxRate, customer_replica
from shared.clock import today
from shared.db import UnitOfWork
from shared.money import display_price, from_fixed
from shared.pricing import DEFAULT_TAX_RATES, CatalogItem, LineRequest, PricingError, price_lines
from shared.pricing import Contract as PricingContract
from shared.web.lookups import one_or_404, replica_customer
from shared.web.problems import Problem

CENT = Decimal("0.01")  # percentages are shown with two decimals


def item(uow: UnitOfWork, sku: str, *, for_update: bool = False) -> Item:
    """The item, or 404."""
    stmt = select(Item).where(Item.sku == sku)
    return one_or_404(uow, stmt, f"item {sku}", for_update=for_update)


def contract(uow: UnitOfWork, contract_id: uuid.UUID, *, for_update: bool = False) -> Contract:
    """The contract, or 404."""
    stmt = select(Contract).where(Contract.id == contract_id)
    return one_or_404(uow, stmt, f"contract {contract_id}", for_update=for_update)


def customer(uow: UnitOfWork, customer_id: uuid.UUID) -> Any:
    """The replica row of a customer named in a request body; on a miss asked once from
    customers (unknown there: 422 on ``customer_id``; customers down: 503)."""
    return replica_customer(uow, customer_replica, customer_id)


def customer_contracts(
    uow: UnitOfWork, customer_id: str, *, for_update: bool = False
) -> list[Contract]:
    stmt = select(Contract).where(Contract.customer_id == customer_id)
    return list(uow.session.execute(stmt.with_for_update() if for_update else stmt).scalars())


def catalog(uow: UnitOfWork, skus: Iterable[str]) -> dict[str, CatalogItem]:
    """The catalog items of these skus (unknown ones left out), as pricing sees them."""
    rows = uow.session.execute(select(Item).where(Item.sku.in_(set(skus)))).scalars()
    return {row.sku: CatalogItem.from_snapshot(events.item_snapshot(row)) for row in rows}


def current_tax_rates(uow: UnitOfWork) -> dict[str, Decimal]:
    """Rate percent per tax code: the defaults, overridden by the table."""
    rates = dict(DEFAULT_TAX_RATES)
    for row in uow.session.execute(select(TaxRate)).scalars():
        rates[row.code] = from_fixed(row.rate_fixed, PERCENT_PLACES)
    return rates


def pricing_contract(row: Contract) -> PricingContract:
    """The contract as pricing sees it."""
    return PricingContract.from_snapshot(events.contract_snapshot(row))


def item_view(row: Item) -> dict[str, Any]:
    """The API answer: the whole item, as its events carry it."""
    return events.item_snapshot(row)


def item_views(rows: list[Item]) -> list[dict[str, Any]]:
    return [item_view(row) for row in rows]


def contract_view(row: Contract) -> dict[str, Any]:
    """The API answer: the whole contract, as its events carry it."""
    return events.contract_snapshot(row)


def contract_views(rows: list[Contract]) -> list[dict[str, Any]]:
    return [contract_view(row) for row in rows]


def quote(uow: UnitOfWork, request: Mapping[str, Any]) -> dict[str, Any]:
    """Lines priced for the customer on the date asked (today by default) by its contract
    in force there; 422 naming the line that cannot be priced."""
    buyer = customer(uow, request["customer_id"])
    day = request["date"] or today()
    lines = [
        LineRequest(line["sku"], line["quantity"], line.get("unit_price"), line.get("description"))
        for line in request["lines"]
    ]
    try:
        priced = price_lines(
            lines,
            currency=buyer.currency,
            on=day,
            items=catalog(uow, [line.sku for line in lines]),
            contracts=[pricing_contract(c) for c in customer_contracts(uow, buyer.id)],
            tax_rates=current_tax_rates(uow),
        )
    except PricingError as exc:
        raise Problem(422, str(exc), errors={exc.field: [exc.message]}) from None
    return {
        "customer_id": buyer.id,
        "date": day,
        "currency": priced.currency,
        "contract_id": priced.contract_id,
        "lines": [
            line.__dict__
            | {
                "unit_price": display_price(line.unit_price, priced.currency),
                "discount_percent": line.discount_percent.quantize(CENT),
                "tax_rate": line.tax_rate.quantize(CENT),
            }
            for line in priced.lines
        ],
        "subtotal": priced.subtotal,
        "tax_total": priced.tax_total,
        "total": priced.total,
    }
