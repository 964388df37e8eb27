"""HTTP routes of the contracts service: catalog, tax rates, contracts, quotes. Each parses,
calls one command or query, and renders."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from services.contracts import commands, queries
from services.contracts.domain import shown_rates
from services.contracts.models import Contract, Item
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
from shared.web.auth import requires
from shared.web.blueprint import Blueprint
from shared.web.context import unit_of_work
from shared.web.lists import Listing, PageQuery, list_page, page_of
from shared.web.writes import check_if_match, json_response, with_etag

blp = Blueprint("contracts", __name__, description="Item catalog, tax rates, contracts and quotes")
ITEMS = Listing((Item.sku,), ItemSchema, "items")
CONTRACTS = Listing(
    (Contract.created_at, Contract.id), ContractSchema, "contracts", descending=True
)


def _item_answer(item: Item, status: int = 200) -> Any:
    body = ItemSchema().dump(queries.item_view(item))
    return with_etag(json_response(body, status), item.version)


def _contract_answer(contract: Contract, status: int = 200) -> Any:
    body = ContractSchema().dump(queries.contract_view(contract))
    return with_etag(json_response(body, status), contract.version)


# -- items --------------------------------------------------------------------------------


@blp.route("/items", methods=["POST"])
@requires("admin")
@blp.arguments(ItemCreateSchema)
@blp.response(201, ItemSchema)
def create_item(body: dict[str, Any]) -> Any:
    """Add an item to the catalog; ``sku`` is unique."""
    with unit_of_work() as uow:
        item = commands.create_item(uow, body)
        response = _item_answer(item, 201)
        uow.commit()
    response.headers["Location"] = f"items/{item.sku}"
    return response


@blp.route("/items", methods=["GET"])
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(ItemSchema))
def list_items(args: dict[str, Any]) -> Any:
    """The catalog in sku order."""
    with unit_of_work() as uow:
        return list_page(uow.session, select(Item), ITEMS, args, queries.item_views)


@blp.route("/items/<string:sku>", methods=["GET"])
@blp.response(200, ItemSchema)
def get_item(sku: str) -> Any:
    with unit_of_work() as uow:
        return _item_answer(queries.item(uow, sku))


@blp.route("/items/<string:sku>", methods=["PATCH"])
@requires("admin")
@blp.arguments(ItemFields)
@blp.response(200, ItemSchema)
def update_item(body: dict[str, Any], sku: str) -> Any:
    """Change name, unit_price, currency or tax_code; a stale ``If-Match`` is 409."""
    with unit_of_work() as uow:
        response = _item_answer(commands.update_item(uow, sku, body, check_if_match))
        uow.commit()
    return response


# -- tax rates ----------------------------------------------------------------------------


@blp.route("/tax-rates", methods=["GET"])
@blp.response(200, TaxRatesSchema)
def get_tax_rates() -> Any:
    """Rate percent per tax code."""
    with unit_of_work() as uow:
        return json_response(shown_rates(queries.current_tax_rates(uow)), 200)


@blp.route("/tax-rates", methods=["PUT"])
@requires("admin")
@blp.arguments(TaxRatesSchema)
@blp.response(200, TaxRatesSchema)
def put_tax_rates(body: dict[str, Decimal]) -> Any:
    """Replace the whole table; emits contracts.tax_rates.updated."""
    with unit_of_work() as uow:
        rates = commands.replace_tax_rates(uow, body)
        uow.commit()
    return json_response(shown_rates(rates), 200)


# -- contracts ----------------------------------------------------------------------------


@blp.route("/contracts", methods=["POST"])
@requires("admin")
@blp.arguments(ContractCreateSchema)
@blp.response(201, ContractSchema)
def create_contract(body: dict[str, Any]) -> Any:
    """A draft contract for a customer, in the customer's currency."""
    with unit_of_work() as uow:
        contract = commands.create_contract(uow, body)
        response = _contract_answer(contract, 201)
        uow.commit()
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
        return list_page(uow.session, stmt, CONTRACTS, args, queries.contract_views)


@blp.route("/contracts/<uuid:contract_id>", methods=["GET"])
@blp.response(200, ContractSchema)
def get_contract(contract_id: uuid.UUID) -> Any:
    with unit_of_work() as uow:
        return _contract_answer(queries.contract(uow, contract_id))


@blp.route("/contracts/<uuid:contract_id>/activate", methods=["POST"])
@requires("admin")
@blp.response(200, ContractSchema)
def activate_contract(contract_id: uuid.UUID) -> Any:
    """draft -> active; 409 if it overlaps another activated contract of the customer."""
    with unit_of_work() as uow:
        response = _contract_answer(commands.activate_contract(uow, contract_id))
        uow.commit()
    return response


@blp.route("/contracts/<uuid:contract_id>/terminate", methods=["POST"])
@requires("admin")
@blp.arguments(TerminateSchema)
@blp.response(200, ContractSchema)
def terminate_contract(body: dict[str, Any], contract_id: uuid.UUID) -> Any:
    """active -> terminated; the contract stays in force up to and including ``effective``."""
    with unit_of_work() as uow:
        contract = commands.terminate_contract(uow, contract_id, body["effective"])
        response = _contract_answer(contract)
        uow.commit()
    return response


# -- quotes -------------------------------------------------------------------------------


@blp.route("/quotes", methods=["POST"])
@blp.arguments(QuoteRequestSchema)
@blp.response(200, QuoteSchema)
def quote(body: dict[str, Any]) -> Any:
    """Price lines for a customer on a date, by the customer's contract in force."""
    with unit_of_work() as uow:
        return queries.quote(uow, body)
