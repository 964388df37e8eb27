"""Events billing consumes: replicas of customers, items, contracts and tax rates, and the
payments it applies, reverses and refunds."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, select

from services.billing import commands, queries
from services.billing.models import (
    Invoice,
    contract_replica,
    customer_replica,
    item_replica,
    tax_rates_replica,
)
from shared.db import UnitOfWork
from shared.messaging import BadEvent, Event, NotYetKnown
from shared.money import MoneyError, to_minor
from shared.replicas import apply_snapshot, customer_replica_handlers

Handler = Callable[[UnitOfWork, Event], None]


def snapshot_replica(
    table: Table, key: Callable[[dict[str, Any]], str], **extra: Callable[[dict[str, Any]], Any]
) -> Handler:
    """A handler keeping ``table`` at the newest snapshot of each entity."""

    def handle(uow: UnitOfWork, event: Event) -> None:
        values = {
            "snapshot": event.raw_data,
            **{name: get(event.raw_data) for name, get in extra.items()},
        }
        apply_snapshot(uow, table, key(event.raw_data), event.sequence, values)

    return handle


def _customer_currency(uow: UnitOfWork, customer_id: str, currency: str) -> str:
    """The money's currency, once it is known to be the customer's (the account's)."""
    known = uow.session.execute(
        select(customer_replica.c.currency).where(customer_replica.c.id == customer_id)
    ).first()
    return _checked_currency(customer_id, currency, known.currency if known else None)


def _checked_currency(customer_id: str, currency: str, known: str | None) -> str:
    if known is None:
        raise NotYetKnown(f"customer {customer_id} not seen yet")
    if known != currency:
        raise BadEvent(f"{currency} money for customer {customer_id}, whose account is in {known}")
    return currency


def _minor(amount: Any, currency: str) -> int:
    try:
        return to_minor(amount, currency)
    except (MoneyError, ValueError) as exc:
        raise BadEvent(f"amount {amount} {currency}: {exc}") from None


def payment_received(uow: UnitOfWork, event: Event) -> None:
    payment = event.data
    customer_id = str(payment["customer_id"])
    named = [str(a["invoice_id"]) for a in payment.get("allocations") or []]
    if not named and payment.get("invoice_id"):
        named = [str(payment["invoice_id"])]
    ids = {_uuid_or_none(invoice_id) for invoice_id in named}
    uow.session.flush()  # what this transaction's earlier events changed, before reading
    known = queries.payment_context(
        uow, str(payment["id"]), customer_id, [i for i in ids if i is not None]
    )
    if known.applied is not None:
        return  # applied before under another event id
    currency = _checked_currency(customer_id, payment["currency"], known.currency)
    requested: list[tuple[str, int | None]] = [
        (str(a["invoice_id"]), _minor(a["amount"], currency))
        for a in payment.get("allocations") or []
    ]
    if payment.get("invoice_id") and not requested:
        requested = [(str(payment["invoice_id"]), None)]
    if None in ids or known.invoices < len(ids):
        _check_invoices(uow, requested)  # one is malformed or unknown: say which
    commands.apply_payment(uow, payment, _minor(payment["amount"], currency), requested)


def _check_invoices(uow: UnitOfWork, requested: list[tuple[str, int | None]]) -> None:
    for invoice_id, _ in requested:
        if (
            uow.session.execute(select(Invoice.id).where(Invoice.id == _uuid(invoice_id))).first()
            is None
        ):
            raise NotYetKnown(f"invoice {invoice_id} not seen yet")


def payment_reversed(uow: UnitOfWork, event: Event) -> None:
    day = event.data.get("date") or event.occurred_at.date()
    if not commands.reverse_payment(
        uow, str(event.data["payment_id"]), event.data.get("reason"), day
    ):
        raise NotYetKnown(f"payment {event.data['payment_id']} not applied yet")


def refund_issued(uow: UnitOfWork, event: Event) -> None:
    refund = event.data
    _customer_currency(uow, str(refund["customer_id"]), refund["currency"])
    commands.post_refund(uow, refund, _minor(refund["amount"], refund["currency"]))


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadEvent(f"{value!r} is not an invoice id") from None


HANDLERS: dict[str, Handler] = {
    **customer_replica_handlers(customer_replica),
    "contracts.item.created": snapshot_replica(item_replica, lambda d: d["sku"]),
    "contracts.item.updated": snapshot_replica(item_replica, lambda d: d["sku"]),
    "contracts.contract.activated": snapshot_replica(
        contract_replica, lambda d: d["id"], customer_id=lambda d: d["customer_id"]
    ),
    "contracts.contract.terminated": snapshot_replica(
        contract_replica, lambda d: d["id"], customer_id=lambda d: d["customer_id"]
    ),
    "contracts.tax_rates.updated": snapshot_replica(tax_rates_replica, lambda _d: "tax-rates"),
    "payments.payment.received": payment_received,
    "payments.payment.reversed": payment_reversed,
    "payments.refund.issued": refund_issued,
}
