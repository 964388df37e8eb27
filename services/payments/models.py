"""The payments database: payments, refunds, and replicas of customers, open invoices and
each customer's unapplied credit as billing last reported it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, new_metadata, platform_tables
from shared.messaging.backpressure import queue_depths_table
from shared.money import from_minor
from shared.replicas import customer_replica_table, invoice_replica_table


class Base(DeclarativeBase):
    metadata = new_metadata()


platform = platform_tables(Base.metadata)
queue_depths = queue_depths_table(Base.metadata)  # what the worker reads for backpressure
customer_replica = customer_replica_table(Base.metadata)
invoice_replica = invoice_replica_table(Base.metadata)
credit_replica = Table(
    "credit_replica",
    Base.metadata,
    Column("id", String(64), primary_key=True),  # the customer id
    Column("currency", String(3), nullable=False),
    Column("unapplied_credit_minor", BigInteger, nullable=False),
    Column("snapshot", JSON, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(200))
    received_on: Mapped[dt.date] = mapped_column(Date)
    requested: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # [{invoice_id, amount}]
    invoice_id: Mapped[str | None] = mapped_column(String(64))
    allocations: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # as billing applied them
    unapplied_minor: Mapped[int | None] = mapped_column(BigInteger)
    # Sequence of the billing event the leftover above comes from (newest wins).
    applied_sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20))  # received | applied | reversed
    reverse_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reversed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}
    # Staff find a payment by the reference on the bank statement, in any case.
    __table_args__ = (Index("ix_payments_reference_lower", func.lower(reference)),)

    def event_data(self) -> dict[str, Any]:
        """payments.payment.received: the whole payment with the allocations asked for."""
        c = self.currency
        return {
            "id": str(self.id),
            "number": self.number,
            "customer_id": self.customer_id,
            "amount": from_minor(self.amount_minor, c),
            "currency": c,
            "method": self.method,
            "reference": self.reference,
            "received_on": self.received_on,
            "date": self.received_on,
            "allocations": self.requested,
            "invoice_id": self.invoice_id,
            "status": "received",
            "version": self.version,
            "created_at": self.created_at,
        }

    def view(self) -> dict[str, Any]:
        """The API answer: ``allocations`` as billing applied them (empty until it has)."""
        c = self.currency
        return {
            **self.event_data(),
            "status": self.status,
            "requested_allocations": self.requested,
            "allocations": self.allocations,
            "unapplied_amount": None
            if self.unapplied_minor is None
            else from_minor(self.unapplied_minor, c),
            "reason": self.reverse_reason,
            "reversed_at": self.reversed_at,
            "updated_at": self.updated_at,
        }


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(200))
    date: Mapped[dt.date] = mapped_column(Date)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)  # its refund.issued event
    reflected: Mapped[bool] = mapped_column(default=False)  # billing's credit includes it
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "number": self.number,
            "customer_id": self.customer_id,
            "amount": from_minor(self.amount_minor, self.currency),
            "currency": self.currency,
            "method": self.method,
            "reference": self.reference,
            "date": self.date,
            "status": "issued",
            "created_at": self.created_at,
        }
