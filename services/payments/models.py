"""The payments database: payments, refunds, and replicas of customers, open invoices and
each customer's unapplied credit as billing last reported it."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    func,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, new_metadata, platform_tables
from shared.messaging.backpressure import queue_depths_table
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
    # False: entered as history (an import); no receipt is sent for it.
    notify: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reversed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}
    # Staff find a payment by the reference on the bank statement, in any case.
    __table_args__ = (Index("ix_payments_reference_lower", func.lower(reference)),)


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
    # False: entered as history (an import); no notice is sent for it.
    notify: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
