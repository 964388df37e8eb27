"""Payments' use cases: recording a payment, reversing it, refunding credit, and keeping
what billing reports about each payment and each customer's credit. Each runs in the
caller's unit of work and writes its events (payloads from ``events``) in the same
transaction."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update

from services.payments import events, queries
from services.payments.domain import (
    OPEN_STATUSES,
    allocations_after,
    document_number,
    over_allocated,
)
from services.payments.models import (
    Payment,
    Refund,
    credit_replica,
    customer_replica,
    invoice_replica,
)
from shared.clock import today, utcnow
from shared.db import UnitOfWork
from shared.messaging import BadEvent
from shared.money import MoneyError, from_minor, to_minor
from shared.replicas import apply_snapshot
from shared.web.lookups import replica_customer, replica_invoice
from shared.web.problems import conflict, invalid

VersionCheck = Callable[[int], None]  # raises if the caller expected another version
_payments = cast(Table, Payment.__table__)
_refunds = cast(Table, Refund.__table__)
# Core statements, built once: a payment is written once per request and once per report
# of billing's, and the ORM's load and flush machinery cost more than the statements.
NEW_PAYMENT = _payments.insert()
LOCKED_PAYMENT = (
    select(
        _payments.c.id,
        _payments.c.currency,
        _payments.c.status,
        _payments.c.allocations,
        _payments.c.unapplied_minor,
        _payments.c.applied_sequence,
    )
    .where(_payments.c.id == bindparam("id"))
    .with_for_update()
)
SAVE_APPLICATION = (
    update(_payments)
    .where(_payments.c.id == bindparam("pid"))
    .values(
        {
            name: bindparam(f"new_{name}", type_=_payments.c[name].type)
            for name in ("allocations", "unapplied_minor", "applied_sequence", "status")
        }
        | {"version": _payments.c.version + 1}
    )
)
# Billing's credit now includes the refunds whose events caused these balance changes: one
# statement for a whole batch of balance changes, written when its transaction commits.
REFLECTED_REFUNDS = (
    update(_refunds)
    .where(_refunds.c.event_id.in_(bindparam("causes", expanding=True)))
    .values(reflected=True)
)
REFLECTED_CAUSES = "payments: causes of balance changes"
# What a payment or refund reads of the replicas' rows (not their snapshots).
CUSTOMER = ("id", "currency")
INVOICE = ("customer_id", "status", "number")


def _minor(value: Any, currency: str, field: str) -> int:
    try:
        return to_minor(value, currency)
    except MoneyError as exc:
        raise invalid(field, str(exc)) from None


def _customer_and_amount(uow: UnitOfWork, request: dict[str, Any]) -> tuple[Any, str, int]:
    """The customer a payment or refund names, its currency (the customer's) and the amount
    in minor units; 422 naming the field otherwise."""
    customer = replica_customer(uow, customer_replica, request["customer_id"], columns=CUSTOMER)
    if request["currency"] != customer.currency:
        raise invalid("currency", f"the customer pays in {customer.currency}")
    return customer, request["currency"], _minor(request["amount"], request["currency"], "amount")


def _open_invoice(uow: UnitOfWork, invoice_id: uuid.UUID, customer_id: str, field: str) -> Any:
    row = replica_invoice(uow, invoice_replica, invoice_id, columns=INVOICE)
    if row is None or row.customer_id != customer_id:
        raise invalid(field, f"no invoice {invoice_id} of this customer")
    if row.status not in OPEN_STATUSES:
        raise invalid(field, f"invoice {row.number} is {row.status}")
    return row


def _requested(
    uow: UnitOfWork, request: dict[str, Any], customer_id: str, currency: str
) -> list[tuple[str, int]]:
    """The allocations asked for, each to an open invoice of the customer."""
    requested = []
    for index, allocation in enumerate(request["allocations"]):
        field = f"allocations.{index}"
        _open_invoice(uow, allocation["invoice_id"], customer_id, f"{field}.invoice_id")
        share = _minor(allocation["amount"], currency, f"{field}.amount")
        requested.append((str(allocation["invoice_id"]), share))
    return requested


def record_payment(uow: UnitOfWork, request: dict[str, Any]) -> dict[str, Any]:
    """Money received, optionally pointed at invoices; billing applies it. Answers the
    payment as the API shows it."""
    customer, currency, amount = _customer_and_amount(uow, request)
    requested = _requested(uow, request, customer.id, currency)
    if over_allocated(requested, amount):
        raise invalid("allocations", "the allocations add up to more than the payment")
    if request["invoice_id"] is not None:
        _open_invoice(uow, request["invoice_id"], customer.id, "invoice_id")
    day = request["received_on"] or today()
    now = utcnow()
    row = {
        "id": uuid.uuid4(),
        "number": document_number("PAY", day, uow.take_number(f"payment:{day.year}")),
        "customer_id": customer.id,
        "amount_minor": amount,
        "currency": currency,
        "method": request["method"],
        "reference": request["reference"],
        "received_on": day,
        "requested": [
            {"invoice_id": invoice_id, "amount": str(from_minor(share, currency))}
            for invoice_id, share in requested
        ],
        "invoice_id": None if request["invoice_id"] is None else str(request["invoice_id"]),
        "allocations": [],
        "unapplied_minor": None,
        "applied_sequence": 0,
        "status": "received",
        "reverse_reason": None,
        "notify": request["notify"],
        "version": 1,
        "created_at": now,
        "reversed_at": None,
        "updated_at": now,
    }
    # One Core INSERT on the transaction's connection: the ORM's flush machinery and the
    # Session's execution machinery cost more than the statement itself.
    uow.connection().execute(NEW_PAYMENT, row)
    data = events.payment_received(SimpleNamespace(**row))
    envelope = uow.emit("payments.payment.received", str(row["id"]), data)
    return queries.received_view(envelope["data"])


def reverse_payment(
    uow: UnitOfWork, payment_id: uuid.UUID, request: dict[str, Any], check_version: VersionCheck
) -> Payment:
    """A bounced cheque or a chargeback: billing removes everything this payment paid."""
    payment = queries.payment(uow, payment_id, for_update=True)
    check_version(payment.version)
    if payment.status == "reversed":
        raise conflict(f"payment {payment.number} is already reversed")
    day = request["date"] or today()
    payment.status, payment.reverse_reason = "reversed", request["reason"]
    payment.reversed_at = payment.updated_at = utcnow()
    uow.session.flush()
    data = events.payment_reversed(payment, request["reason"], day)
    uow.emit("payments.payment.reversed", str(payment.id), data)
    return payment


def issue_refund(uow: UnitOfWork, request: dict[str, Any]) -> dict[str, Any]:
    """Pay account credit back; more than the customer's available credit is 409. Answers
    the refund as its event carries it."""
    customer, currency, amount = _customer_and_amount(uow, request)
    # Refunds of one customer take turns: lock its credit row (or its replica row).
    uow.session.execute(
        select(customer_replica.c.id).where(customer_replica.c.id == customer.id).with_for_update()
    )
    available = queries.available_credit(uow, customer.id)
    if amount > available:
        raise conflict(
            f"the customer has {from_minor(max(available, 0), currency)} {currency} "
            "of credit available to refund"
        )
    day = request["date"] or today()
    refund = Refund(
        id=uuid.uuid4(),
        number=document_number("REF", day, uow.take_number(f"refund:{day.year}")),
        customer_id=customer.id,
        amount_minor=amount,
        currency=currency,
        method=request["method"],
        reference=request["reference"],
        date=day,
        notify=request["notify"],
        event_id="",
        created_at=utcnow(),
    )
    uow.session.add(refund)
    envelope = uow.emit("payments.refund.issued", str(refund.id), events.refund_issued(refund))
    refund.event_id = envelope["id"]
    return dict(envelope["data"])


# -- what billing reports -----------------------------------------------------------------


def _locked_payment(uow: UnitOfWork, payment_id: Any) -> Any:
    """What billing's reports change on a payment, its row locked for this transaction."""
    payment = uow.session.execute(LOCKED_PAYMENT, {"id": uuid.UUID(str(payment_id))}).first()
    if payment is None:
        raise BadEvent(f"billing reports payment {payment_id}, which payments never recorded")
    return payment


def _save_application(uow: UnitOfWork, payment: Any, values: dict[str, Any]) -> None:
    """Write ``values`` over the locked ``payment`` and move its version on, unless nothing
    changed (then nothing is written and the version stays, as an answered ETag expects)."""
    if all(getattr(payment, name) == value for name, value in values.items()):
        return
    uow.session.execute(
        SAVE_APPLICATION, {f"new_{k}": v for k, v in values.items()} | {"pid": payment.id}
    )


def record_application(
    uow: UnitOfWork,
    payment_id: Any,
    reported: list[dict[str, str]],
    unapplied: Any,
    *,
    sequence: int,
    from_credit: bool,
) -> None:
    """How billing applied the payment (``from_credit``: a later use of its leftover credit)
    and what is left unapplied as of billing's event ``sequence``."""
    payment = _locked_payment(uow, payment_id)
    values = {
        "allocations": allocations_after(payment.allocations, reported, from_credit=from_credit),
        "unapplied_minor": payment.unapplied_minor,
        "applied_sequence": payment.applied_sequence,
        "status": "applied" if payment.status == "received" else payment.status,
    }
    if sequence > payment.applied_sequence:  # events may arrive out of order
        values["unapplied_minor"] = to_minor(unapplied, payment.currency)
        values["applied_sequence"] = sequence
    _save_application(uow, payment, values)


def record_unapplication(uow: UnitOfWork, payment_id: Any, sequence: int) -> None:
    """Billing removed everything the (reversed) payment paid."""
    payment = _locked_payment(uow, payment_id)
    values = {
        "allocations": [],
        "unapplied_minor": 0,
        "applied_sequence": max(payment.applied_sequence, sequence),
        "status": payment.status,
    }
    _save_application(uow, payment, values)


def record_credit(
    uow: UnitOfWork, balance: dict[str, Any], credit: Any, sequence: int, cause: str | None
) -> None:
    """Billing's credit for the customer; the refund that caused the change (if one did) is
    now reflected in it."""
    currency = balance["currency"]
    values = {
        "currency": currency,
        "unapplied_credit_minor": to_minor(credit, currency),
        "snapshot": balance,
    }
    apply_snapshot(uow, credit_replica, balance["customer_id"], sequence, values)
    if cause:
        # Most causes are payments, which match no refund: a batch's causes share one
        # statement, run at its commit.
        uow.collect(REFLECTED_CAUSES, functools.partial(_mark_reflected, uow)).append(cause)


def _mark_reflected(uow: UnitOfWork, causes: list[str]) -> None:
    uow.session.execute(REFLECTED_REFUNDS, {"causes": causes})
