"""Local replicas of another service's entities, fed by snapshot events.

Event-carried state transfer: a service keeps the few fields it needs of, say, customers,
and applies a snapshot only if its ``sequence`` is newer than the one it holds, so
redelivered or out-of-order events never move a replica backwards.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, MetaData, String, Table, select

from shared.clock import utcnow
from shared.db import UnitOfWork, UTCDateTime, insert_for
from shared.messaging.envelope import Event


def customer_replica_table(metadata: MetaData) -> Table:
    """The customers replica every consuming service keeps (same shape everywhere)."""
    return Table(
        "customer_replica",
        metadata,
        Column("id", String(64), primary_key=True),
        Column("number", String(20), nullable=False),
        Column("name", String(200), nullable=False),
        Column("email", String(320), nullable=True),
        Column("currency", String(3), nullable=False),
        Column("payment_terms", String(20), nullable=False),
        Column("status", String(20), nullable=False),
        Column("reminders_enabled", Boolean, nullable=False),
        Column("snapshot", JSON, nullable=False),
        Column("sequence", BigInteger, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )


def apply_snapshot(
    uow: UnitOfWork, table: Table, entity_id: str, sequence: int, values: dict[str, Any]
) -> bool:
    """Insert or update one replica row unless it already holds a newer sequence.

    One statement (INSERT ... ON CONFLICT DO UPDATE ... WHERE newer); True if the row changed.
    """
    row = {"id": entity_id, **values, "sequence": sequence, "updated_at": utcnow()}
    upsert = _upsert(table, uow.db.dialect, tuple(row))
    return uow.connection().execute(upsert, row).first() is not None


@functools.cache
def _upsert(table: Table, dialect: str, columns: tuple[str, ...]) -> Any:
    """The upsert of ``columns`` (``id`` first), built once: replicas apply it for every
    event, and building the statement anew each time cost more than running it."""
    new = insert_for(dialect)(table)
    return new.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={name: new.excluded[name] for name in columns[1:]},
        where=table.c.sequence < new.excluded.sequence,
    ).returning(table.c.id)


def customer_values(customer: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": customer["number"],
        "name": customer["name"],
        "email": customer.get("email"),
        "currency": customer["currency"],
        "payment_terms": customer["payment_terms"],
        "status": customer["status"],
        "reminders_enabled": customer["reminders_enabled"],
        "snapshot": raw,
    }


def customer_replica_handlers(table: Table) -> dict[str, Any]:
    """Handlers keeping ``table`` in step with customers.customer.* events."""

    def on_snapshot(uow: UnitOfWork, event: Event) -> None:
        apply_snapshot(
            uow,
            table,
            event.data["id"],
            event.sequence,
            customer_values(event.data, event.raw_data),
        )

    def on_archived(uow: UnitOfWork, event: Event) -> None:
        customer = event.data["customer"]
        apply_snapshot(
            uow,
            table,
            event.data["customer_id"],
            event.sequence,
            customer_values(customer, event.raw_data["customer"]),
        )

    return {
        "customers.customer.created": on_snapshot,
        "customers.customer.updated": on_snapshot,
        "customers.customer.archived": on_archived,
    }


def invoice_replica_table(metadata: MetaData) -> Table:
    """The open-invoices replica payments and notifier keep from billing.invoice.* events."""
    return Table(
        "invoice_replica",
        metadata,
        Column("id", String(64), primary_key=True),
        Column("customer_id", String(64), nullable=False, index=True),
        Column("number", String(20), nullable=True),
        Column("status", String(20), nullable=False),
        Column("currency", String(3), nullable=False),
        Column("due_date", Date, nullable=True),
        Column("amount_due", String(30), nullable=False),  # the wire form, e.g. "40.00"
        Column("snapshot", JSON, nullable=False),
        Column("sequence", BigInteger, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )


def invoice_values(invoice: dict[str, Any]) -> dict[str, Any]:
    """The invoice replica's columns from an invoice on the wire (an event's data or
    billing's ``GET /invoices/{id}``)."""
    due = invoice.get("due_date")
    return {
        "customer_id": invoice["customer_id"],
        "number": invoice.get("number"),
        "status": invoice["status"],
        "currency": invoice["currency"],
        "due_date": dt.date.fromisoformat(due) if isinstance(due, str) else due,
        "amount_due": invoice["amount_due"],
        "snapshot": invoice,
    }


def invoice_replica_handler(table: Table) -> Any:
    """A handler keeping ``table`` at each invoice's newest snapshot (issued / updated)."""

    def on_invoice(uow: UnitOfWork, event: Event) -> None:
        invoice = event.raw_data
        apply_snapshot(uow, table, invoice["id"], event.sequence, invoice_values(invoice))

    return on_invoice


COMPANY = "company"  # the subject of billing.company.updated, and the one replica row's id


def company_replica_table(metadata: MetaData) -> Table:
    """The seller's company profile as billing last published it (one row)."""
    return Table(
        "company_replica",
        metadata,
        Column("id", String(64), primary_key=True),
        Column("snapshot", JSON, nullable=False),
        Column("sequence", BigInteger, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )


def company_replica_handler(table: Table) -> Any:
    """A handler keeping ``table`` at the newest billing.company.updated."""

    def on_company(uow: UnitOfWork, event: Event) -> None:
        apply_snapshot(uow, table, COMPANY, event.sequence, {"snapshot": event.raw_data})

    return on_company


def company_profile(uow: UnitOfWork, table: Table) -> dict[str, Any] | None:
    """The company profile replicated in ``table``, or None before billing published one."""
    row = uow.session.execute(select(table.c.snapshot).where(table.c.id == COMPANY)).first()
    return dict(row.snapshot) if row is not None else None
