"""HTTP routes of the contracts service: catalog, tax rates, contracts, quotes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from services.contracts.commands import terminate
from services.contracts.domain import (
    LifecycleError,
    check_termination,
    check_transition,
    first_overlap,
)
from services.contracts.models import (
    PERCENT_PLACES,
    PRICE_PLACES,
    Contract,
    Item,
    TaxRate,
    customer_replica,
)
from services.contracts.schemas import (
    ContractCreateSchema,
    ContractQuery,
    ContractSchema,
    ItemCreateSchema,
    ItemFields,
    ItemSchema,
    QuoteRequestSchema,
    QuoteSchema,
    TaxRatesSchema,
    TerminateSchema,
)
from shared.clock import today, utcnow
from shared.db import UnitOfWork
from shared.money import display_price, from_fixed, to_fixed
from shared.pricing import DEFAULT_TAX_RATES, CatalogItem, LineRequest, PricingError, price_lines
from shared.pricing import Contract as PricingContract
from shared.web.auth import requires
from shared.web.blueprint import Blueprint
from shared.web.context import unit_of_work
from shared.web.lists import Listing, PageQuery, list_page, page_of, snapshots
from shared.web.lookups import replica_customer
from shared.web.problems import Problem, conflict, invalid, not_found
from shared.web.writes import check_if_match, json_response, with_etag

CENT = Decimal("0.01")  # percentages are shown with two decimals

blp = Blueprint("contracts", __name__, description="Item catalog, tax rates, contracts and quotes")
ITEMS = Listing((Item.sku,), ItemSchema, "items")
CONTRACTS = Listing(
    (Contract.created_at, Contract.id), ContractSchema, "contracts", descending=True
)


# -- helpers ------------------------------------------------------------------------------


def _item(uow: UnitOfWork, sku: str, *, for_update: bool = False) -> Item:
    stmt = select(Item).where(Item.sku == sku)
    item = uow.session.execute(stmt.with_for_update() if for_update else stmt).scalar_one_or_none()
    if item is None:
        raise not_found(f"item {sku}")
    return item


def _contract(uow: UnitOfWork, contract_id: uuid.UUID, *, for_update: bool = False) -> Contract:
    stmt = select(Contract).where(Contract.id == contract_id)
    row = uow.session.execute(stmt.with_for_update() if for_update else stmt).scalar_one_or_none()
    if row is None:
        raise not_found(f"contract {contract_id}")
    return row


def _customer(uow: UnitOfWork, customer_id: uuid.UUID) -> Any:
    """The replica row of a customer named in a request body; on a miss asked once from
    customers (unknown there: 422 on ``customer_id``; customers down: 503)."""
    return replica_customer(uow, customer_replica, customer_id)


def current_tax_rates(uow: UnitOfWork) -> dict[str, Decimal]:
    rates = dict(DEFAULT_TAX_RATES)
    for row in uow.session.execute(select(TaxRate)).scalars():
        rates[row.code] = from_fixed(row.rate_fixed, PERCENT_PLACES)
    return rates


def _rates_body(rates: dict[str, Decimal]) -> dict[str, str]:
    return {code: str(rate.quantize(Decimal("0.01"))) for code, rate in rates.items()}


def pricing_contract(row: Contract) -> PricingContract:
    return PricingContract.from_snapshot(row.snapshot())


def _customer_contracts(
    uow: UnitOfWork, customer_id: str, *, for_update: bool = False
) -> list[Contract]:
    stmt = select(Contract).where(Contract.customer_id == customer_id)
    return list(uow.session.execute(stmt.with_for_update() if for_update else stmt).scalars())


def _catalog(uow: UnitOfWork, skus: Iterable[str]) -> dict[str, CatalogItem]:
    rows = uow.session.execute(select(Item).where(Item.sku.in_(set(skus)))).scalars()
    return {row.sku: CatalogItem.from_snapshot(row.snapshot()) for row in rows}


# -- items --------------------------------------------------------------------------------


@blp.route("/items", methods=["POST"])
@requires("admin")
@blp.arguments(ItemCreateSchema)
@blp.response(201, ItemSchema)
def create_item(body: dict[str, Any]) -> Any:
    """Add an item to the catalog; ``sku`` is unique."""
    with unit_of_work() as uow:
        if uow.session.get(Item, body["sku"]) is not None:
            raise conflict(f"an item with sku {body['sku']} exists already")
        now = utcnow()
        item = Item(
            sku=body["sku"],
            name=body["name"].strip(),
            unit_price_fixed=to_fixed(body["unit_price"], PRICE_PLACES),
            currency=body["currency"],
            tax_code=body["tax_code"],
            created_at=now,
            updated_at=now,
        )
        uow.session.add(item)
        uow.session.flush()
        data = uow.emit("contracts.item.created", item.sku, item.snapshot())["data"]
        uow.commit()
    response = with_etag(json_response(data, 201), item.version)
    response.headers["Location"] = f"items/{item.sku}"
    return response


@blp.route("/items", methods=["GET"])
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(ItemSchema))
def list_items(args: dict[str, Any]) -> Any:
    """The catalog in sku order."""
    with unit_of_work() as uow:
        return list_page(uow.session, select(Item), ITEMS, args, snapshots)


@blp.route("/items/<string:sku>", methods=["GET"])
@blp.response(200, ItemSchema)
def get_item(sku: str) -> Any:
    with unit_of_work() as uow:
        item = _item(uow, sku)
        return with_etag(json_response(ItemSchema().dump(item.snapshot()), 200), item.version)


@blp.route("/items/<string:sku>", methods=["PATCH"])
@requires("admin")
@blp.arguments(ItemFields)
@blp.response(200, ItemSchema)
def update_item(body: dict[str, Any], sku: str) -> Any:
    """Change name, unit_price, currency or tax_code; a stale ``If-Match`` is 409."""
    with unit_of_work() as uow:
        item = _item(uow, sku, for_update=True)
        check_if_match(item.version)
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = body["name"].strip()
        if "unit_price" in body:
            changes["unit_price_fixed"] = to_fixed(body["unit_price"], PRICE_PLACES)
        for field in ("currency", "tax_code"):
            if field in body:
                changes[field] = body[field]
        changed = {k: v for k, v in changes.items() if getattr(item, k) != v}
        if changed:
            for field, value in changed.items():
                setattr(item, field, value)
            item.updated_at = utcnow()
            uow.session.flush()
            uow.emit("contracts.item.updated", item.sku, item.snapshot())
        data = ItemSchema().dump(item.snapshot())
        uow.commit()
    return with_etag(json_response(data, 200), item.version)


# -- tax rates ----------------------------------------------------------------------------


@blp.route("/tax-rates", methods=["GET"])
@blp.response(200, TaxRatesSchema)
def get_tax_rates() -> Any:
    """Rate percent per tax code."""
    with unit_of_work() as uow:
        return json_response(_rates_body(current_tax_rates(uow)), 200)


@blp.route("/tax-rates", methods=["PUT"])
@requires("admin")
@blp.arguments(TaxRatesSchema)
@blp.response(200, TaxRatesSchema)
def put_tax_rates(body: dict[str, Decimal]) -> Any:
    """Replace the whole table; emits contracts.tax_rates.updated."""
    with unit_of_work() as uow:
        now = utcnow()
        existing = {
            row.code: row
            for row in uow.session.execute(select(TaxRate).with_for_update()).scalars()
        }
        for code, rate in body.items():
            row = existing.get(code)
            if row is None:
                uow.session.add(
                    TaxRate(code=code, rate_fixed=to_fixed(rate, PERCENT_PLACES), updated_at=now)
                )
            else:
                row.rate_fixed, row.updated_at = to_fixed(rate, PERCENT_PLACES), now
        uow.session.flush()
        rates = current_tax_rates(uow)
        uow.emit(
            "contracts.tax_rates.updated",
            "tax-rates",
            {"rates": rates, "version": uow.next_number("tax_rates_version"), "updated_at": now},
        )
        uow.commit()
    return json_response(_rates_body(rates), 200)


# -- contracts ----------------------------------------------------------------------------


@blp.route("/contracts", methods=["POST"])
@requires("admin")
@blp.arguments(ContractCreateSchema)
@blp.response(201, ContractSchema)
def create_contract(body: dict[str, Any]) -> Any:
    """A draft contract for a customer, in the customer's currency."""
    with unit_of_work() as uow:
        customer = _customer(uow, body["customer_id"])
        if customer.status == "archived":
            raise conflict(f"customer {customer.number} is archived")
        skus = [price["sku"] for price in body["prices"]]
        known = _catalog(uow, skus)
        for index, sku in enumerate(skus):
            if sku not in known:
                raise invalid(f"prices.{index}.sku", f"unknown sku {sku!r}")
        treatment = body["tax_treatment"]
        now = utcnow()
        contract = Contract(
            id=uuid.uuid4(),
            customer_id=str(body["customer_id"]),
            name=body["name"].strip(),
            currency=customer.currency,
            valid_from=body["valid_from"],
            valid_to=body["valid_to"],
            discount_fixed=to_fixed(body["discount_percent"], PERCENT_PLACES),
            tax_treatment={
                "type": treatment["type"],
                "rate": None if treatment.get("rate") is None else str(treatment["rate"]),
                "note": treatment.get("note"),
            },
            prices=[
                {
                    "sku": p["sku"],
                    "unit_price": str(display_price(p["unit_price"], customer.currency)),
                }
                for p in body["prices"]
            ],
            status="draft",
            created_at=now,
            updated_at=now,
        )
        uow.session.add(contract)
        uow.session.flush()
        data = ContractSchema().dump(contract.snapshot())
        uow.commit()
    response = with_etag(json_response(data, 201), contract.version)
    response.headers["Location"] = f"contracts/{contract.id}"
    return response


@blp.route("/contracts", methods=["GET"])
@blp.arguments(ContractQuery, location="query")
@blp.response(200, page_of(ContractSchema))
def list_contracts(args: dict[str, Any]) -> Any:
    """Contracts, newest first; filter by ``customer_id`` and ``status``."""
    stmt = select(Contract)
    if "customer_id" in args:
        stmt = stmt.where(Contract.customer_id == str(args["customer_id"]))
    if "status" in args:
        stmt = stmt.where(Contract.status == args["status"])
    with unit_of_work() as uow:
        return list_page(uow.session, stmt, CONTRACTS, args, snapshots)


@blp.route("/contracts/<uuid:contract_id>", methods=["GET"])
@blp.response(200, ContractSchema)
def get_contract(contract_id: uuid.UUID) -> Any:
    with unit_of_work() as uow:
        contract = _contract(uow, contract_id)
        return with_etag(
            json_response(ContractSchema().dump(contract.snapshot()), 200), contract.version
        )


@blp.route("/contracts/<uuid:contract_id>/activate", methods=["POST"])
@requires("admin")
@blp.response(200, ContractSchema)
def activate_contract(contract_id: uuid.UUID) -> Any:
    """draft -> active; 409 if it overlaps another activated contract of the customer."""
    with unit_of_work() as uow:
        contract = _contract(uow, contract_id)
        # Lock every contract of the customer: concurrent activations take turns.
        siblings = _customer_contracts(uow, contract.customer_id, for_update=True)
        try:
            check_transition("activate", contract.status)
        except LifecycleError as exc:
            raise conflict(str(exc)) from None
        customer = _customer(uow, uuid.UUID(contract.customer_id))
        if customer.status == "archived":
            raise conflict(f"customer {customer.number} is archived")
        clash = first_overlap(
            pricing_contract(contract),
            [pricing_contract(c) for c in siblings if c.status in ("active", "terminated")],
        )
        if clash is not None:
            raise conflict(f"it overlaps contract {clash.id} of the same customer")
        contract.status, contract.activated_at = "active", utcnow()
        contract.updated_at = contract.activated_at
        uow.session.flush()
        data = uow.emit("contracts.contract.activated", str(contract.id), contract.snapshot())[
            "data"
        ]
        uow.commit()
    return with_etag(json_response(data, 200), contract.version)


@blp.route("/contracts/<uuid:contract_id>/terminate", methods=["POST"])
@requires("admin")
@blp.arguments(TerminateSchema)
@blp.response(200, ContractSchema)
def terminate_contract(body: dict[str, Any], contract_id: uuid.UUID) -> Any:
    """active -> terminated; the contract stays in force up to and including ``effective``."""
    with unit_of_work() as uow:
        contract = _contract(uow, contract_id, for_update=True)
        try:
            check_transition("terminate", contract.status)
        except LifecycleError as exc:
            raise conflict(str(exc)) from None
        try:
            check_termination(pricing_contract(contract), body["effective"])
        except ValueError as exc:
            raise invalid("effective", str(exc)) from None
        data = terminate(uow, contract, body["effective"])
        uow.commit()
    return with_etag(json_response(data, 200), contract.version)


# -- quotes -------------------------------------------------------------------------------


@blp.route("/quotes", methods=["POST"])
@blp.arguments(QuoteRequestSchema)
@blp.response(200, QuoteSchema)
def quote(body: dict[str, Any]) -> Any:
    """Price lines for a customer on a date, by the customer's contract in force."""
    with unit_of_work() as uow:
        customer = _customer(uow, body["customer_id"])
        day = body["date"] or today()
        lines = [
            LineRequest(
                line["sku"], line["quantity"], line.get("unit_price"), line.get("description")
            )
            for line in body["lines"]
        ]
        try:
            priced = price_lines(
                lines,
                currency=customer.currency,
                on=day,
                items=_catalog(uow, [line.sku for line in lines]),
                contracts=[pricing_contract(c) for c in _customer_contracts(uow, customer.id)],
                tax_rates=current_tax_rates(uow),
            )
        except PricingError as exc:
            raise Problem(422, str(exc), errors={exc.field: [exc.message]}) from None
    return {
        "customer_id": customer.id,
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
