"""HTTP routes of the customers service: parse, call one command or query, render."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from services.customers import commands, queries
from services.customers.domain import search_key
from services.customers.models import Customer, Interaction
from services.customers.schemas import (
    CustomerCreateSchema,
    CustomerFields,
    CustomerQuery,
    CustomerSchema,
    InteractionCreateSchema,
    InteractionSchema,
)
from shared.web.auth import current_identity, requires
from shared.web.blueprint import Blueprint
from shared.web.context import unit_of_work
from shared.web.lists import Listing, list_page, page_of
from shared.web.writes import check_if_match, idempotent_create, json_response, with_etag

blp = Blueprint("customers", __name__, description="Customers and their communication history")
CUSTOMERS = Listing((Customer.seq,), CustomerSchema, "customers")
INTERACTIONS = Listing(
    (Interaction.occurred_at, Interaction.id), InteractionSchema, "interactions", descending=True
)


def _answer(customer: Customer) -> Any:
    body = CustomerSchema().dump(queries.customer_view(customer))
    return with_etag(json_response(body, 200), customer.version)


@blp.route("/customers", methods=["POST"])
@requires("clerk")
@blp.arguments(CustomerCreateSchema)
@blp.response(201, CustomerSchema)
def create_customer(body: dict[str, Any]) -> Any:
    """Create a customer; it gets the next number (C-000001). Honours Idempotency-Key."""
    with unit_of_work() as uow:

        def create() -> tuple[Any, int, dict[str, str]]:
            customer = commands.create_customer(uow, body)
            answer = CustomerSchema().dump(queries.customer_view(customer))
            headers = {"Location": f"customers/{customer.id}", "ETag": f'"{customer.version}"'}
            return answer, 201, headers

        return idempotent_create(uow, create)


@blp.route("/customers", methods=["GET"])
@blp.arguments(CustomerQuery, location="query")
@blp.response(200, page_of(CustomerSchema))
def list_customers(args: dict[str, Any]) -> Any:
    """Customers in number order; ``q`` matches name, email, number or tax id in any case or
    accent; ``number`` is one exact customer number."""
    stmt = select(Customer)
    if "number" in args:
        stmt = stmt.where(Customer.number == args["number"].strip().upper())
    if "q" in args:
        stmt = stmt.where(Customer.search_text.contains(search_key(args["q"]), autoescape=True))
    if "status" in args:
        stmt = stmt.where(Customer.status == args["status"])
    with unit_of_work() as uow:
        return list_page(uow.session, stmt, CUSTOMERS, args, queries.customer_views)


@blp.route("/customers/<uuid:customer_id>", methods=["GET"])
@blp.response(200, CustomerSchema)
def get_customer(customer_id: uuid.UUID) -> Any:
    with unit_of_work() as uow:
        return _answer(queries.customer(uow, customer_id))


@blp.route("/customers/<uuid:customer_id>", methods=["PATCH"])
@requires("clerk")
@blp.arguments(CustomerFields)
@blp.response(200, CustomerSchema)
def update_customer(body: dict[str, Any], customer_id: uuid.UUID) -> Any:
    """Change any field; ``If-Match: <version>`` that is stale answers 409."""
    with unit_of_work() as uow:
        customer = commands.update_customer(uow, customer_id, body, check_if_match)
        response = _answer(customer)
        uow.commit()
    return response


@blp.route("/customers/<uuid:customer_id>/archive", methods=["POST"])
@requires("clerk")
@blp.response(200, CustomerSchema)
def archive_customer(customer_id: uuid.UUID) -> Any:
    """Archive instead of delete: the record and its history stay."""
    with unit_of_work() as uow:
        response = _answer(commands.archive_customer(uow, customer_id))
        uow.commit()
    return response


@blp.route("/customers/<uuid:customer_id>/interactions", methods=["GET"])
@blp.arguments(CustomerQuery(only=("limit", "cursor", "format")), location="query")
@blp.response(200, page_of(InteractionSchema))
def list_interactions(args: dict[str, Any], customer_id: uuid.UUID) -> Any:
    """The communication history, newest first."""
    with unit_of_work() as uow:
        queries.customer(uow, customer_id)
        mine = select(Interaction).where(Interaction.customer_id == customer_id)
        return list_page(uow.session, mine, INTERACTIONS, args, queries.interaction_views)


@blp.route("/customers/<uuid:customer_id>/interactions", methods=["POST"])
@requires("clerk")
@blp.arguments(InteractionCreateSchema)
@blp.response(201, InteractionSchema)
def log_interaction(body: dict[str, Any], customer_id: uuid.UUID) -> Any:
    """Log a call, email, meeting, letter, SMS or note; the author is the caller."""
    with unit_of_work() as uow:
        author = current_identity().subject
        interaction = commands.log_interaction(uow, customer_id, body, author)
        answer = InteractionSchema().dump(queries.interaction_view(interaction))
        uow.commit()
    return json_response(answer, 201)
