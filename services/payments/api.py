"""HTTP routes of the payments service: payments, reversals, refunds."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from services.payments import commands, queries
from services.payments.models import Payment
from services.payments.schemas import (
    PaymentCreateSchema,
    PaymentQuery,
    PaymentSchema,
    RefundCreateSchema,
    RefundSchema,
    ReverseSchema,
)
from shared.web.auth import requires
from shared.web.backpressure import backpressured
from shared.web.blueprint import Blueprint
from shared.web.context import unit_of_work
from shared.web.lists import Listing, list_page, page_of
from shared.web.writes import check_if_match, idempotent_create, json_response, with_etag

blp = Blueprint("payments", __name__, description="Payments received, reversals and refunds")
PAYMENTS = Listing((Payment.created_at, Payment.id), PaymentSchema, "payments", descending=True)
# Built once: a schema instance costs more to make than a payment costs to dump with it.
PAYMENT_SCHEMA = PaymentSchema()


def _answer(payment: Payment, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    body = PAYMENT_SCHEMA.dump(queries.payment_view(payment))
    return with_etag(json_response(body, status, headers), payment.version)


@blp.route("/payments", methods=["POST"])
@requires("clerk")
@blp.arguments(PaymentCreateSchema())
@blp.response(201, PaymentSchema)
@backpressured
def record_payment(body: dict[str, Any]) -> Any:
    """Record money received, optionally pointed at invoices; billing applies it. To mark an
    invoice paid, record its amount due against it. Honours Idempotency-Key."""
    with unit_of_work() as uow:

        def create() -> tuple[Any, int, dict[str, str]]:
            payment = commands.record_payment(uow, body)
            headers = {"Location": f"payments/{payment['id']}", "ETag": f'"{payment["version"]}"'}
            return payment, 201, headers

        return idempotent_create(uow, create)


@blp.route("/payments", methods=["GET"])
@blp.arguments(PaymentQuery, location="query")
@blp.response(200, page_of(PaymentSchema))
def list_payments(args: dict[str, Any]) -> Any:
    """Payments, newest first; ``customer_id``, ``number``, ``reference`` and ``status``
    filters."""
    stmt = select(Payment)
    if "number" in args:
        stmt = stmt.where(Payment.number == args["number"].strip().upper())
    if "reference" in args:
        stmt = stmt.where(func.lower(Payment.reference) == args["reference"].strip().lower())
    if "customer_id" in args:
        stmt = stmt.where(Payment.customer_id == str(args["customer_id"]))
    if "status" in args:
        stmt = stmt.where(Payment.status == args["status"])
    with unit_of_work() as uow:
        return list_page(uow.session, stmt, PAYMENTS, args, queries.payment_views)


@blp.route("/payments/<uuid:payment_id>", methods=["GET"])
@blp.response(200, PaymentSchema)
def get_payment(payment_id: uuid.UUID) -> Any:
    with unit_of_work() as uow:
        return _answer(queries.payment(uow, payment_id))


@blp.route("/payments/<uuid:payment_id>/reverse", methods=["POST"])
@requires("admin")
@blp.arguments(ReverseSchema)
@blp.response(200, PaymentSchema)
@backpressured
def reverse_payment(body: dict[str, Any], payment_id: uuid.UUID) -> Any:
    """A bounced cheque or a chargeback: billing removes everything this payment paid. A
    stale ``If-Match`` is 409."""
    with unit_of_work() as uow:
        payment = commands.reverse_payment(uow, payment_id, body, check_if_match)
        response = _answer(payment)
        uow.commit()
    return response


@blp.route("/refunds", methods=["POST"])
@requires("admin")
@blp.arguments(RefundCreateSchema)
@blp.response(201, RefundSchema)
@backpressured
def issue_refund(body: dict[str, Any]) -> Any:
    """Pay account credit back; more than the customer's available credit is 409."""
    with unit_of_work() as uow:

        def create() -> tuple[Any, int, dict[str, str]]:
            refund = commands.issue_refund(uow, body)
            return refund, 201, {"Location": f"refunds/{refund['id']}"}

        return idempotent_create(uow, create)
