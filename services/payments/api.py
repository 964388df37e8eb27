"""HTTP routes of the payments service: payments, reversals, refunds."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from services.payments.models import (
    Payment,
    Refund,
    credit_replica,
    customer_replica,
    invoice_replica,
)
from services.payments.schemas import (
    PaymentCreateSchema,
    PaymentQuery,
    PaymentSchema,
    RefundCreateSchema,
    RefundSchema,
    ReverseSchema,
)
from shared.clock import today, utcnow
from shared.db import UnitOfWork
from shared.money import MoneyError, from_minor, to_minor
from shared.web.auth import requires
from shared.web.backpressure import backpressured
from shared.web.blueprint import Blueprint
from shared.web.context import unit_of_work
from shared.web.lists import keyset_page, list_response, page_of
from shared.web.lookups import replica_customer, replica_invoice
from shared.web.problems import conflict, invalid, not_found
from shared.web.writes import check_if_match, idempotent_create, json_response, with_etag

blp = Blueprint("payments", __name__, description="Payments received, reversals and refunds")
OPEN = ("open", "partially_paid")


def _minor(value: Any, currency: str, field: str) -> int:
    try:
        return to_minor(value, currency)
    except MoneyError as exc:
        raise invalid(field, str(exc)) from None


def _customer_and_amount(uow: UnitOfWork, body: dict[str, Any]) -> tuple[Any, str, int]:
    """The customer a payment or refund names, its currency (the customer's) and the amount
    in minor units; 422 naming the field otherwise."""
    customer = replica_customer(uow, customer_replica, body["customer_id"])
    if body["currency"] != customer.currency:
        raise invalid("currency", f"the customer pays in {customer.currency}")
    return customer, body["currency"], _minor(body["amount"], body["currency"], "amount")


def _open_invoice(uow: UnitOfWork, invoice_id: uuid.UUID, customer_id: str, field: str) -> Any:
    row = replica_invoice(uow, invoice_replica, invoice_id)
    if row is None or row.customer_id != customer_id:
        raise invalid(field, f"no invoice {invoice_id} of this customer")
    if row.status not in OPEN:
        raise invalid(field, f"invoice {row.number} is {row.status}")
    return row


def _payment(uow: UnitOfWork, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment:
    stmt = select(Payment).where(Payment.id == payment_id)
    payment = uow.session.execute(
        stmt.with_for_update() if for_update else stmt
    ).scalar_one_or_none()
    if payment is None:
        raise not_found(f"payment {payment_id}")
    return payment


@blp.route("/payments", methods=["POST"])
@requires("clerk")
@blp.arguments(PaymentCreateSchema)
@blp.response(201, PaymentSchema)
@backpressured
def record_payment(body: dict[str, Any]) -> Any:
    """Record money received, optionally pointed at invoices; billing applies it. To mark an
    invoice paid, record its amount due against it. Honours Idempotency-Key."""
    with unit_of_work() as uow:

        def create() -> tuple[Any, int, dict[str, str]]:
            customer, currency, amount = _customer_and_amount(uow, body)
            requested: list[tuple[str, int]] = []
            for index, allocation in enumerate(body["allocations"]):
                _open_invoice(
                    uow, allocation["invoice_id"], customer.id, f"allocations.{index}.invoice_id"
                )
                share = _minor(allocation["amount"], currency, f"allocations.{index}.amount")
                requested.append((str(allocation["invoice_id"]), share))
            if sum(share for _, share in requested) > amount:
                raise invalid("allocations", "the allocations add up to more than the payment")
            if body["invoice_id"] is not None:
                _open_invoice(uow, body["invoice_id"], customer.id, "invoice_id")
            day = body["received_on"] or today()
            now = utcnow()
            payment = Payment(
                id=uuid.uuid4(),
                number=f"PAY-{day.year}-{uow.take_number(f'payment:{day.year}'):06d}",
                customer_id=customer.id,
                amount_minor=amount,
                currency=currency,
                method=body["method"],
                reference=body["reference"],
                received_on=day,
                requested=[
                    {"invoice_id": invoice_id, "amount": str(from_minor(share, currency))}
                    for invoice_id, share in requested
                ],
                invoice_id=None if body["invoice_id"] is None else str(body["invoice_id"]),
                allocations=[],
                unapplied_minor=None,
                applied_sequence=0,
                status="received",
                created_at=now,
                updated_at=now,
            )
            uow.session.add(payment)
            uow.session.flush()
            uow.emit(
                "payments.payment.received",
                str(payment.id),
                {**payment.event_data(), "notify": body["notify"]},
            )
            answer = PaymentSchema().dump(payment.view())
            return (
                answer,
                201,
                {"Location": f"payments/{payment.id}", "ETag": f'"{payment.version}"'},
            )

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
        rows, next_cursor = keyset_page(
            uow.session,
            stmt,
            [Payment.created_at, Payment.id],
            lambda p: [p.created_at, p.id],
            limit=args["limit"],
            cursor=args["cursor"],
            descending=True,
        )
        items = [row.view() for row in rows]
    return list_response(items, PaymentSchema, next_cursor, filename="payments")


@blp.route("/payments/<uuid:payment_id>", methods=["GET"])
@blp.response(200, PaymentSchema)
def get_payment(payment_id: uuid.UUID) -> Any:
    with unit_of_work() as uow:
        payment = _payment(uow, payment_id)
        return with_etag(json_response(PaymentSchema().dump(payment.view()), 200), payment.version)


@blp.route("/payments/<uuid:payment_id>/reverse", methods=["POST"])
@requires("admin")
@blp.arguments(ReverseSchema)
@blp.response(200, PaymentSchema)
@backpressured
def reverse_payment(body: dict[str, Any], payment_id: uuid.UUID) -> Any:
    """A bounced cheque or a chargeback: billing removes everything this payment paid. A
    stale ``If-Match`` is 409."""
    with unit_of_work() as uow:
        payment = _payment(uow, payment_id, for_update=True)
        check_if_match(payment.version)
        if payment.status == "reversed":
            raise conflict(f"payment {payment.number} is already reversed")
        day = body["date"] or today()
        payment.status, payment.reverse_reason = "reversed", body["reason"]
        payment.reversed_at = payment.updated_at = utcnow()
        uow.session.flush()
        uow.emit(
            "payments.payment.reversed",
            str(payment.id),
            {
                "payment_id": str(payment.id),
                "customer_id": payment.customer_id,
                "reason": body["reason"],
                "date": day,
                "number": payment.number,
                "amount": from_minor(payment.amount_minor, payment.currency),
                "currency": payment.currency,
                "received_on": payment.received_on,
                "reversed_at": payment.reversed_at,
            },
        )
        answer = PaymentSchema().dump(payment.view())
        uow.commit()
    return with_etag(json_response(answer, 200), payment.version)


def available_credit(uow: UnitOfWork, customer_id: str) -> int:
    """Billing's last known unapplied credit minus refunds it has not reflected yet."""
    known = uow.session.execute(
        select(credit_replica.c.unapplied_credit_minor).where(credit_replica.c.id == customer_id)
    ).scalar()
    pending = uow.session.execute(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.customer_id == customer_id, Refund.reflected.is_(False)
        )
    ).scalar_one()
    return int(known or 0) - int(pending)


@blp.route("/refunds", methods=["POST"])
@requires("admin")
@blp.arguments(RefundCreateSchema)
@blp.response(201, RefundSchema)
@backpressured
def issue_refund(body: dict[str, Any]) -> Any:
    """Pay account credit back; more than the customer's available credit is 409."""
    with unit_of_work() as uow:

        def create() -> tuple[Any, int, dict[str, str]]:
            customer, currency, amount = _customer_and_amount(uow, body)
            # Refunds of one customer take turns: lock its credit row (or its replica row).
            uow.session.execute(
                select(customer_replica.c.id)
                .where(customer_replica.c.id == customer.id)
                .with_for_update()
            )
            available = available_credit(uow, customer.id)
            if amount > available:
                raise conflict(
                    f"the customer has {from_minor(max(available, 0), currency)} {currency} "
                    "of credit available to refund"
                )
            day = body["date"] or today()
            refund = Refund(
                id=uuid.uuid4(),
                number=f"REF-{day.year}-{uow.take_number(f'refund:{day.year}'):06d}",
                customer_id=customer.id,
                amount_minor=amount,
                currency=currency,
                method=body["method"],
                reference=body["reference"],
                date=day,
                event_id="",
                created_at=utcnow(),
            )
            uow.session.add(refund)
            envelope = uow.emit(
                "payments.refund.issued",
                str(refund.id),
                {**refund.snapshot(), "notify": body["notify"]},
            )
            refund.event_id = envelope["id"]
            return envelope["data"], 201, {"Location": f"refunds/{refund.id}"}

        return idempotent_create(uow, create)
