"""The contracts service's use cases: the catalog, the tax rate table, and a contract's life
(drafted, activated, terminated by hand or when its customer is archived). Each runs in the
caller's unit of work and writes its events (payloads from ``events``) in the same
transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from services.contracts import events, queries
from services.contracts.domain import (
    PERCENT_PLACES,
    PRICE_PLACES,
    LifecycleError,
    check_termination,
    check_transition,
    first_overlap,
    item_changes,
    stored_prices,
    stored_treatment,
    termination_on_archive,
)
from services.contracts.models import Contract, Item, TaxRate
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.money import to_fixed
from shared.web.problems import conflict, invalid

VersionCheck = Callable[[int], None]  # raises if the caller expected another version


# -- the catalog and the tax rates --------------------------------------------------------


def create_item(uow: UnitOfWork, request: Mapping[str, Any]) -> Item:
    """Add an item to the catalog; a sku taken already is 409."""
    if uow.session.get(Item, request["sku"]) is not None:
        raise conflict(f"an item with sku {request['sku']} exists already")
    now = utcnow()
    item = Item(
        sku=request["sku"],
        name=request["name"].strip(),
        unit_price_fixed=to_fixed(request["unit_price"], PRICE_PLACES),
        currency=request["currency"],
        tax_code=request["tax_code"],
        created_at=now,
        updated_at=now,
    )
    uow.session.add(item)
    uow.session.flush()
    uow.emit("contracts.item.created", item.sku, events.item_snapshot(item))
    return item


def update_item(
    uow: UnitOfWork, sku: str, request: Mapping[str, Any], check_version: VersionCheck
) -> Item:
    """Change an item's name, unit price, currency or tax code; a change that changes
    nothing emits nothing and keeps the version."""
    item = queries.item(uow, sku, for_update=True)
    check_version(item.version)
    changed = {k: v for k, v in item_changes(request).items() if getattr(item, k) != v}
    if changed:
        for field, value in changed.items():
            setattr(item, field, value)
        item.updated_at = utcnow()
        uow.session.flush()
        uow.emit("contracts.item.updated", item.sku, events.item_snapshot(item))
    return item


def replace_tax_rates(uow: UnitOfWork, rates: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Replace the whole table; answers the rates now in force."""
    now = utcnow()
    existing = {
        row.code: row for row in uow.session.execute(select(TaxRate).with_for_update()).scalars()
    }
    for code, rate in rates.items():
        row = existing.get(code)
        if row is None:
            uow.session.add(
                TaxRate(code=code, rate_fixed=to_fixed(rate, PERCENT_PLACES), updated_at=now)
            )
        else:
            row.rate_fixed, row.updated_at = to_fixed(rate, PERCENT_PLACES), now
    uow.session.flush()
    current = queries.current_tax_rates(uow)
    data = events.tax_rates_updated(current, uow.next_number("tax_rates_version"), now)
    uow.emit("contracts.tax_rates.updated", "tax-rates", data)
    return current


# -- contracts ----------------------------------------------------------------------------


def _active_customer(uow: UnitOfWork, customer_id: uuid.UUID) -> Any:
    customer = queries.customer(uow, customer_id)
    if customer.status == "archived":
        raise conflict(f"customer {customer.number} is archived")
    return customer


def create_contract(uow: UnitOfWork, request: Mapping[str, Any]) -> Contract:
    """A draft contract for an active customer, in the customer's currency (drafts are not
    published)."""
    customer = _active_customer(uow, request["customer_id"])
    skus = [price["sku"] for price in request["prices"]]
    known = queries.catalog(uow, skus)
    for index, sku in enumerate(skus):
        if sku not in known:
            raise invalid(f"prices.{index}.sku", f"unknown sku {sku!r}")
    now = utcnow()
    contract = Contract(
        id=uuid.uuid4(),
        customer_id=str(request["customer_id"]),
        name=request["name"].strip(),
        currency=customer.currency,
        valid_from=request["valid_from"],
        valid_to=request["valid_to"],
        discount_fixed=to_fixed(request["discount_percent"], PERCENT_PLACES),
        tax_treatment=stored_treatment(request["tax_treatment"]),
        prices=stored_prices(request["prices"], customer.currency),
        status="draft",
        created_at=now,
        updated_at=now,
    )
    uow.session.add(contract)
    uow.session.flush()
    return contract


def _check_transition(action: str, status: str) -> None:
    try:
        check_transition(action, status)
    except LifecycleError as exc:
        raise conflict(str(exc)) from None


def activate_contract(uow: UnitOfWork, contract_id: uuid.UUID) -> Contract:
    """draft -> active; 409 if it overlaps another activated contract of the customer."""
    contract = queries.contract(uow, contract_id)
    # Lock every contract of the customer: concurrent activations take turns.
    siblings = queries.customer_contracts(uow, contract.customer_id, for_update=True)
    _check_transition("activate", contract.status)
    _active_customer(uow, uuid.UUID(contract.customer_id))
    clash = first_overlap(
        queries.pricing_contract(contract),
        [queries.pricing_contract(c) for c in siblings if c.status in ("active", "terminated")],
    )
    if clash is not None:
        raise conflict(f"it overlaps contract {clash.id} of the same customer")
    contract.status, contract.activated_at = "active", utcnow()
    contract.updated_at = contract.activated_at
    uow.session.flush()
    uow.emit("contracts.contract.activated", str(contract.id), events.contract_snapshot(contract))
    return contract


def terminate(uow: UnitOfWork, contract: Contract, effective: dt.date) -> None:
    """Mark ``contract`` terminated as of ``effective`` and emit the event."""
    contract.status, contract.terminated_on = "terminated", effective
    contract.terminated_at = contract.updated_at = utcnow()
    uow.session.flush()
    uow.emit("contracts.contract.terminated", str(contract.id), events.contract_snapshot(contract))


def terminate_contract(uow: UnitOfWork, contract_id: uuid.UUID, effective: dt.date) -> Contract:
    """active -> terminated; the contract stays in force up to and including ``effective``,
    which lies within its period (422 otherwise)."""
    contract = queries.contract(uow, contract_id, for_update=True)
    _check_transition("terminate", contract.status)
    try:
        check_termination(queries.pricing_contract(contract), effective)
    except ValueError as exc:
        raise invalid("effective", str(exc)) from None
    terminate(uow, contract, effective)
    return contract


def end_contracts_of(uow: UnitOfWork, customer_id: str, archived_on: dt.date) -> None:
    """The customer was archived on ``archived_on``: its active contracts end then (see
    ``domain.termination_on_archive``)."""
    active = uow.session.execute(
        select(Contract)
        .where(Contract.customer_id == customer_id, Contract.status == "active")
        .with_for_update()
    ).scalars()
    for contract in active:
        terminate(
            uow,
            contract,
            termination_on_archive(contract.valid_from, contract.valid_to, archived_on),
        )
