"""HTTP routes of the customers service: parse, call the domain, render."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from services.customers.domain import customer_number, search_key, search_text
from services.customers.models import Customer, Interaction, company_replica
from services.customers.schemas import (
    CustomerCreateSchema,
    CustomerFields,
    CustomerQuery,
    CustomerSchema,
    InteractionCreateSchema,
    InteractionSchema,
)
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.money import from_minor, to_minor
from shared.replicas import company_profile
from shared.web.auth import current_identity, requires
from shared.web.blueprint import Blueprint
from shared.web.context import unit_of_work
from shared.web.lists import Listing, list_page, page_of, snapshots
from shared.web.problems import conflict, invalid, not_found
from shared.web.writes import check_if_match, idempotent_create, json_response, with_etag

blp = Blueprint("customers", __name__, description="Customers and their communication history")
CUSTOMERS = Listing((Customer.seq,), CustomerSchema, "customers")
INTERACTIONS = Listing(
    (Interaction.occurred_at, Interaction.id), InteractionSchema, "interactions", descending=True
)


def _load_customer(
    uow: UnitOfWork, customer_id: uuid.UUID, *, for_update: bool = False
) -> Customer:
    stmt = select(Customer).where(Customer.id == customer_id)
    if for_update:
        stmt = stmt.with_for_update()
    customer = uow.session.execute(stmt).scalar_one_or_none()
    if customer is None:
        raise not_found(f"customer {customer_id}")
    return customer


def _credit_limit_minor(value: Any, currency: str) -> int | None:
    if value is None:
        return None
    try:
        return to_minor(value, currency)
    except ValueError as exc:
        raise invalid("credit_limit", str(exc)) from None


def _address(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    keys = ("line1", "line2", "city", "postal_code", "region", "country")
    return {key: value.get(key) for key in keys}


def company_language(uow: UnitOfWork) -> str:
    """A new customer's language: the company profile's, ``en`` before there is one."""
    profile = company_profile(uow, company_replica)
    return str((profile or {}).get("language") or "en")


@blp.route("/customers", methods=["POST"])
@requires("clerk")
@blp.arguments(CustomerCreateSchema)
@blp.response(201, CustomerSchema)
def create_customer(body: dict[str, Any]) -> Any:
    """Create a customer; it gets the next number (C-000001). Honours Idempotency-Key."""
    with unit_of_work() as uow:

        def create() -> tuple[Any, int, dict[str, str]]:
            now = utcnow()
            customer = Customer(
                id=uuid.uuid4(),
                name=body["name"].strip(),
                email=body.get("email"),
                phone=body.get("phone"),
                billing_address=_address(body.get("billing_address")),
                payment_terms=body["payment_terms"],
                currency=body["currency"],
                tax_id=body.get("tax_id"),
                credit_limit_minor=_credit_limit_minor(body.get("credit_limit"), body["currency"]),
                reminders_enabled=body["reminders_enabled"],
                language=body.get("language") or company_language(uow),
                notes=body.get("notes"),
                status="active",
                created_at=now,
                updated_at=now,
            )
            # The number counter row stays locked until commit (numbers are gapless), so take
            # it as late as possible: concurrent creates queue only for the last statements.
            customer.seq = uow.next_number("customer_number")
            customer.number = customer_number(customer.seq)
            customer.search_text = search_text(
                customer.name, customer.email, customer.number, customer.tax_id
            )
            uow.session.add(customer)
            uow.session.flush()
            answer = uow.emit("customers.customer.created", str(customer.id), customer.snapshot())[
                "data"
            ]
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
        return list_page(uow.session, stmt, CUSTOMERS, args, snapshots)


@blp.route("/customers/<uuid:customer_id>", methods=["GET"])
@blp.response(200, CustomerSchema)
def get_customer(customer_id: uuid.UUID) -> Any:
    with unit_of_work() as uow:
        customer = _load_customer(uow, customer_id)
        return with_etag(
            json_response(CustomerSchema().dump(customer.snapshot()), 200), customer.version
        )


@blp.route("/customers/<uuid:customer_id>", methods=["PATCH"])
@requires("clerk")
@blp.arguments(CustomerFields)
@blp.response(200, CustomerSchema)
def update_customer(body: dict[str, Any], customer_id: uuid.UUID) -> Any:
    """Change any field; ``If-Match: <version>`` that is stale answers 409."""
    with unit_of_work() as uow:
        customer = _load_customer(uow, customer_id, for_update=True)
        check_if_match(customer.version)
        if customer.status == "archived":
            raise conflict(f"customer {customer.number} is archived")
        currency = body.get("currency", customer.currency)
        if currency != customer.currency and customer.has_documents:
            raise conflict(
                f"customer {customer.number} has invoices, credit notes or payments in "
                f"{customer.currency}; its currency can no longer change"
            )
        changes: dict[str, Any] = {}
        for field, value in body.items():
            if field == "credit_limit":
                changes["credit_limit_minor"] = _credit_limit_minor(value, currency)
            elif field == "billing_address":
                changes[field] = _address(value)
            elif field == "name":
                changes[field] = value.strip()
            else:
                changes[field] = value
        if (
            "currency" in body
            and "credit_limit" not in body
            and customer.credit_limit_minor is not None
        ):
            # The stored limit is in minor units of the old currency: re-express it.
            old = from_minor(customer.credit_limit_minor, customer.currency)
            changes["credit_limit_minor"] = _credit_limit_minor(old, currency)
        changed = {k: v for k, v in changes.items() if getattr(customer, k) != v}
        if changed:
            for field, value in changed.items():
                setattr(customer, field, value)
            customer.search_text = search_text(
                customer.name, customer.email, customer.number, customer.tax_id
            )
            customer.updated_at = utcnow()
            uow.session.flush()
            uow.emit("customers.customer.updated", str(customer.id), customer.snapshot())
        body = CustomerSchema().dump(customer.snapshot())
        uow.commit()
    return with_etag(json_response(body, 200), customer.version)


@blp.route("/customers/<uuid:customer_id>/archive", methods=["POST"])
@requires("clerk")
@blp.response(200, CustomerSchema)
def archive_customer(customer_id: uuid.UUID) -> Any:
    """Archive instead of delete: the record and its history stay."""
    with unit_of_work() as uow:
        customer = _load_customer(uow, customer_id, for_update=True)
        if customer.status == "archived":
            raise conflict(f"customer {customer.number} is already archived")
        customer.status = "archived"
        customer.updated_at = utcnow()
        uow.session.flush()
        snapshot = customer.snapshot()
        envelope = uow.emit(
            "customers.customer.archived",
            str(customer.id),
            {"customer_id": snapshot["id"], "customer": snapshot},
        )
        uow.commit()
    return with_etag(json_response(envelope["data"]["customer"], 200), customer.version)


@blp.route("/customers/<uuid:customer_id>/interactions", methods=["GET"])
@blp.arguments(CustomerQuery(only=("limit", "cursor", "format")), location="query")
@blp.response(200, page_of(InteractionSchema))
def list_interactions(args: dict[str, Any], customer_id: uuid.UUID) -> Any:
    """The communication history, newest first."""
    with unit_of_work() as uow:
        _load_customer(uow, customer_id)
        mine = select(Interaction).where(Interaction.customer_id == customer_id)
        return list_page(uow.session, mine, INTERACTIONS, args, snapshots)


@blp.route("/customers/<uuid:customer_id>/interactions", methods=["POST"])
@requires("clerk")
@blp.arguments(InteractionCreateSchema)
@blp.response(201, InteractionSchema)
def log_interaction(body: dict[str, Any], customer_id: uuid.UUID) -> Any:
    """Log a call, email, meeting, letter, SMS or note; the author is the caller."""
    with unit_of_work() as uow:
        _load_customer(uow, customer_id)
        now = utcnow()
        occurred_at = body.get("occurred_at") or now
        interaction = Interaction(
            id=uuid.uuid4(),
            customer_id=customer_id,
            channel=body["channel"],
            direction=body["direction"],
            subject=body.get("subject"),
            body=body.get("body"),
            invoice_id=body.get("invoice_id"),
            occurred_at=occurred_at,
            source="manual",
            author=current_identity().subject,
            created_at=now,
        )
        uow.session.add(interaction)
        uow.session.flush()
        envelope = uow.emit(
            "customers.interaction.logged", str(interaction.id), interaction.snapshot()
        )
        uow.commit()
    return json_response(envelope["data"], 201)
