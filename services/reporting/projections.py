"""Read models from events: one function per event type, also used by the rebuild."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table

from services.reporting.models import Movement, ReportCustomer, ReportInvoice
from shared.db import UnitOfWork, insert_if_absent
from shared.messaging import NotYetKnown
from shared.money import to_minor

Envelope = dict[str, Any]


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _minor(amount: str, currency: str) -> int:
    return to_minor(Decimal(amount), currency)


def _move(
    uow: UnitOfWork,
    envelope: Envelope,
    customer_id: str,
    kind: str,
    day: dt.date,
    amount_minor: int,
    currency: str,
    invoice_id: str | None = None,
) -> None:
    insert_if_absent(
        uow.session,
        cast(Table, Movement.__table__),
        {
            "event_id": envelope["id"],
            "customer_id": customer_id,
            "invoice_id": invoice_id,
            "kind": kind,
            "date": day,
            "amount_minor": amount_minor,
            "currency": currency,
        },
    )


def customer(uow: UnitOfWork, envelope: Envelope) -> None:
    data = envelope["data"]
    snapshot = data.get("customer", data)
    row = uow.session.get(ReportCustomer, snapshot["id"])
    if row is None:
        uow.session.add(
            ReportCustomer(
                id=snapshot["id"],
                name=snapshot["name"],
                currency=snapshot["currency"],
                sequence=envelope["sequence"],
            )
        )
    elif envelope["sequence"] > row.sequence:
        row.name, row.currency, row.sequence = (
            snapshot["name"],
            snapshot["currency"],
            envelope["sequence"],
        )


def invoice_issued(uow: UnitOfWork, envelope: Envelope) -> None:
    invoice = envelope["data"]
    c = invoice["currency"]
    if uow.session.get(ReportInvoice, invoice["id"]) is None:
        uow.session.add(
            ReportInvoice(
                id=invoice["id"],
                customer_id=invoice["customer_id"],
                number=invoice["number"],
                currency=c,
                issue_date=_date(invoice["issue_date"]),
                due_date=_date(invoice["due_date"]),
                net_minor=_minor(invoice["subtotal"], c),
                tax_minor=_minor(invoice["tax_total"], c),
                total_minor=_minor(invoice["total"], c),
                void_on=None,
            )
        )
    _move(
        uow,
        envelope,
        invoice["customer_id"],
        "invoice",
        _date(invoice["issue_date"]),
        _minor(invoice["total"], c),
        c,
        invoice["id"],
    )


def invoice_voided(uow: UnitOfWork, envelope: Envelope) -> None:
    data = envelope["data"]
    invoice = uow.session.get(ReportInvoice, data["invoice_id"])
    if invoice is None:
        if data.get("number") is None:
            return  # a draft: it never counted
        raise NotYetKnown(f"invoice {data['number']} voided before it was seen issued")
    day = _date(data["date"])
    invoice.void_on = day
    _move(
        uow,
        envelope,
        invoice.customer_id,
        "void",
        day,
        -invoice.total_minor,
        invoice.currency,
        invoice.id,
    )


def payment_applied(
    uow: UnitOfWork, envelope: Envelope, sign: int = -1, kind: str = "applied"
) -> None:
    data = envelope["data"]
    for allocation in data["allocations"]:
        _move(
            uow,
            envelope,
            data["customer_id"],
            kind,
            _date(data["date"]),
            sign * _minor(allocation["amount"], data["currency"]),
            data["currency"],
            allocation["invoice_id"],
        )


def payment_unapplied(uow: UnitOfWork, envelope: Envelope) -> None:
    payment_applied(uow, envelope, sign=+1, kind="unapplied")


def credit_note(uow: UnitOfWork, envelope: Envelope) -> None:
    note = envelope["data"]
    c, day = note["currency"], _date(note["date"])
    _move(uow, envelope, note["customer_id"], "credit_note", day, -_minor(note["amount"], c), c)
    applied = _minor(note.get("applied_amount") or "0", c)
    if note.get("invoice_id") and applied:
        _move(uow, envelope, note["customer_id"], "applied", day, -applied, c, note["invoice_id"])


def money(kind: str, sign: int, date_key: str) -> Callable[[UnitOfWork, Envelope], None]:
    def project(uow: UnitOfWork, envelope: Envelope) -> None:
        data = envelope["data"]
        customer_id = data["customer_id"]
        amount = data.get("amount")
        if amount is None:
            return
        _move(
            uow,
            envelope,
            customer_id,
            kind,
            _date(data[date_key]),
            sign * _minor(amount, data["currency"]),
            data["currency"],
        )

    return project


PROJECTIONS: dict[str, Callable[[UnitOfWork, Envelope], None]] = {
    "customers.customer.created": customer,
    "customers.customer.updated": customer,
    "customers.customer.archived": customer,
    "billing.invoice.issued": invoice_issued,
    "billing.invoice.voided": invoice_voided,
    "billing.payment.applied": payment_applied,
    "billing.payment.unapplied": payment_unapplied,
    "billing.credit_note.applied": payment_applied,
    "billing.credit_note.issued": credit_note,
    "payments.payment.received": money("payment", -1, "received_on"),
    "payments.payment.reversed": money("reversal", +1, "date"),
    "payments.refund.issued": money("refund", +1, "date"),
}


def project(uow: UnitOfWork, envelope: Envelope) -> None:
    """Apply one event (in its wire form) to the read models; unknown types change nothing."""
    projection = PROJECTIONS.get(envelope["type"])
    if projection is not None:
        projection(uow, envelope)
