"""What payments' events carry, built from its rows with no I/O."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from services.payments.models import Payment, Refund
from shared.money import from_minor

# A payment as a row of the session, or a new payment's columns as attributes: building the
# ORM object only to read it back cost more than writing the row.
PaymentLike = Payment | SimpleNamespace


def payment_received(payment: PaymentLike) -> dict[str, Any]:
    """payments.payment.received: the whole payment with the allocations asked for."""
    c = payment.currency
    return {
        "id": str(payment.id),
        "number": payment.number,
        "customer_id": payment.customer_id,
        "amount": from_minor(payment.amount_minor, c),
        "currency": c,
        "method": payment.method,
        "reference": payment.reference,
        "received_on": payment.received_on,
        "date": payment.received_on,
        "allocations": payment.requested,
        "invoice_id": payment.invoice_id,
        "status": "received",
        "notify": payment.notify is not False,
        "version": payment.version,
        "created_at": payment.created_at,
    }


def payment_reversed(payment: Payment, reason: str | None, day: dt.date) -> dict[str, Any]:
    """payments.payment.reversed: which payment, why, dated when."""
    return {
        "payment_id": str(payment.id),
        "customer_id": payment.customer_id,
        "reason": reason,
        "date": day,
        "number": payment.number,
        "amount": from_minor(payment.amount_minor, payment.currency),
        "currency": payment.currency,
        "received_on": payment.received_on,
        "reversed_at": payment.reversed_at,
    }


def refund_issued(refund: Refund) -> dict[str, Any]:
    """payments.refund.issued: the whole refund (also the API's answer)."""
    return {
        "id": str(refund.id),
        "number": refund.number,
        "customer_id": refund.customer_id,
        "amount": from_minor(refund.amount_minor, refund.currency),
        "currency": refund.currency,
        "method": refund.method,
        "reference": refund.reference,
        "date": refund.date,
        "status": "issued",
        "notify": refund.notify is not False,
        "created_at": refund.created_at,
    }
