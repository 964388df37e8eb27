"""Payments' reads: a payment as the API shows it and the credit a refund may take."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from services.payments import events
from services.payments.domain import refundable
from services.payments.models import Payment, Refund, credit_replica
from shared.db import UnitOfWork
from shared.money import from_minor
from shared.web.lookups import one_or_404


def payment(uow: UnitOfWork, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment:
    """The payment, or 404."""
    stmt = select(Payment).where(Payment.id == payment_id)
    return one_or_404(uow, stmt, f"payment {payment_id}", for_update=for_update)


def payment_view(row: Payment) -> dict[str, Any]:
    """The API answer: ``allocations`` as billing applied them (empty until it has)."""
    return {
        **events.payment_received(row),
        "status": row.status,
        "requested_allocations": row.requested,
        "allocations": row.allocations,
        "unapplied_amount": None
        if row.unapplied_minor is None
        else from_minor(row.unapplied_minor, row.currency),
        "reason": row.reverse_reason,
        "reversed_at": row.reversed_at,
        "updated_at": row.updated_at,
    }


def received_view(data: dict[str, Any]) -> dict[str, Any]:
    """The API answer for a payment just recorded, from its payments.payment.received data
    (the wire forms the answer's schema gives the same values, in its order): nothing is
    applied or reversed yet, so dumping it again would only repeat the event's work."""
    return {
        "id": data["id"],
        "number": data["number"],
        "customer_id": data["customer_id"],
        "amount": data["amount"],
        "currency": data["currency"],
        "method": data["method"],
        "reference": data["reference"],
        "received_on": data["received_on"],
        "status": data["status"],
        "invoice_id": data["invoice_id"],
        "requested_allocations": data["allocations"],
        "allocations": [],
        "unapplied_amount": None,
        "reason": None,
        "notify": data["notify"],
        "version": data["version"],
        "created_at": data["created_at"],
        "reversed_at": None,
        "updated_at": data["created_at"],
    }


def payment_views(rows: list[Payment]) -> list[dict[str, Any]]:
    return [payment_view(row) for row in rows]


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
    return refundable(known, pending)
