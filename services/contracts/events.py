"""What the contracts service's events carry, built from its rows with no I/O: each payload
is written once, here, and the commands only decide when to emit it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from services.contracts.domain import PERCENT_PLACES, PRICE_PLACES
from services.contracts.models import Contract, Item
from shared.money import display_price, from_fixed


def item_snapshot(item: Item) -> dict[str, Any]:
    """The whole item: contracts.item.created / .updated, and the API's answer."""
    return {
        "sku": item.sku,
        "name": item.name,
        "unit_price": display_price(from_fixed(item.unit_price_fixed, PRICE_PLACES), item.currency),
        "currency": item.currency,
        "tax_code": item.tax_code,
        "active": True,
        "version": item.version,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


def contract_snapshot(contract: Contract) -> dict[str, Any]:
    """The whole contract: contracts.contract.activated / .terminated, and the API's answer
    (drafts too, though no event carries them)."""
    return {
        "id": str(contract.id),
        "customer_id": contract.customer_id,
        "name": contract.name,
        "currency": contract.currency,
        "valid_from": contract.valid_from,
        "valid_to": contract.valid_to,
        "discount_percent": from_fixed(contract.discount_fixed, PERCENT_PLACES),
        "tax_treatment": dict(contract.tax_treatment),
        "prices": [dict(price) for price in contract.prices],
        "status": contract.status,
        "terminated_on": contract.terminated_on,
        "version": contract.version,
        "created_at": contract.created_at,
        "activated_at": contract.activated_at,
        "terminated_at": contract.terminated_at,
        "updated_at": contract.updated_at,
    }


def tax_rates_updated(
    rates: dict[str, Decimal], version: int, updated_at: dt.datetime
) -> dict[str, Any]:
    """contracts.tax_rates.updated: the whole table, with its version."""
    return {"rates": rates, "version": version, "updated_at": updated_at}
