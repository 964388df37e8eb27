"""The billing database: invoices, credit notes, applications, the ledger, accounts, and
replicas of customers, items, contracts and tax rates."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import BigId, UTCDateTime, new_metadata, platform_tables
from shared.messaging.backpressure import queue_depths_table
from shared.replicas import customer_replica_table


class Base(DeclarativeBase):
    metadata = new_metadata()


platform = platform_tables(Base.metadata)
queue_depths = queue_depths_table(Base.metadata)  # what the worker reads for backpressure
customer_replica = customer_replica_table(Base.metadata)

# Replicas of contracts' data, as snapshots keyed like the source (sequence: newest wins).
item_replica = Table(
    "item_replica",
    Base.metadata,
    Column("id", String(64), primary_key=True),  # the sku
    Column("snapshot", JSON, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
contract_replica = Table(
    "contract_replica",
    Base.metadata,
    Column("id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("snapshot", JSON, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
tax_rates_replica = Table(
    "tax_rates_replica",
    Base.metadata,
    Column("id", String(64), primary_key=True),  # "tax-rates"
    Column("snapshot", JSON, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


class Account(Base):
    """One row per customer: the lock every money movement of the customer takes, and the
    unapplied credit (negative when a refund outran the credit it drew on)."""

    __tablename__ = "accounts"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    unapplied_credit_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Invoice(Base):
    __tablename__ = "invoices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[dt.date | None] = mapped_column(Date)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    requested_issue_date: Mapped[dt.date | None] = mapped_column(Date)
    requested_due_date: Mapped[dt.date | None] = mapped_column(Date)
    bill_to: Mapped[dict[str, Any]] = mapped_column(JSON)
    contract_id: Mapped[str | None] = mapped_column(String(64))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # priced lines, decimals as strings
    requested_lines: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON
    )  # as asked (drafts re-price)
    subtotal_minor: Mapped[int] = mapped_column(BigInteger)
    tax_minor: Mapped[int] = mapped_column(BigInteger)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    paid_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    credited_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_on: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    void_reason: Mapped[str | None] = mapped_column(Text)
    overdue_reported: Mapped[bool] = mapped_column(Boolean, default=False)
    # False: entered as history (an import); no email is sent for it.
    notify: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_invoices_open_by_due", "customer_id", "status", "due_date"),)

    @property
    def due_minor(self) -> int:
        return self.total_minor - self.paid_minor - self.credited_minor


class CreditNote(Base):
    __tablename__ = "credit_notes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("invoices.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[list[dict[str, str]]] = mapped_column(
        JSON
    )  # [{tax_rate, net_amount, tax_amount}]
    applied_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    date: Mapped[dt.date] = mapped_column(Date)
    # False: entered as history (an import); no email is sent for it.
    notify: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CreditSource(Base):
    """Money that became account credit: a payment's leftover or a credit note's excess.

    ``used`` counts what later invoices took from it (active applications), so a reversed
    payment can take back exactly what is left of it."""

    __tablename__ = "credit_sources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # payment or credit note id
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # payment | credit_note
    original_minor: Mapped[int] = mapped_column(BigInteger)
    used_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    reversed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ReceivedPayment(Base):
    """A payment as billing applied it (from payments.payment.received)."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    number: Mapped[str | None] = mapped_column(String(30))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    received_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))  # applied | reversed
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Application(Base):
    """Money applied to an invoice: from a payment (directly or through its leftover credit)
    or from a credit note. Removed, never deleted, when its payment is reversed."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"), index=True)
    source_id: Mapped[str] = mapped_column(String(64), index=True)  # payment or credit note id
    source_kind: Mapped[str] = mapped_column(String(20))  # payment | credit_note
    via_credit: Mapped[bool] = mapped_column(Boolean)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    date: Mapped[dt.date] = mapped_column(Date)
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PaymentsListed(Base):
    """Version 1 of ``billing.invoice.updated`` lists every payment applied to the invoice:
    that list in its wire form, kept by the payment path on PostgreSQL, which appends each
    new payment instead of writing all of them again (decision 100). Dropped when the
    invoice's payments change any other way (a reversal, credit applied), and written
    again from the applications when missing. Compressed with lz4 on PostgreSQL (its
    migration): it is rewritten at each payment."""

    __tablename__ = "payments_listed"

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"), primary_key=True)
    payments: Mapped[str] = mapped_column(Text)


class LedgerEntry(Base):
    """The customer's account, append-only: + raises what the customer owes."""

    __tablename__ = "ledger"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    date: Mapped[dt.date] = mapped_column(Date)
    type: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    invoice_id: Mapped[str | None] = mapped_column(String(64))
    payment_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_ledger_customer_date", "customer_id", "date", "id"),)


class CompanyProfile(Base):
    """The seller: what every invoice, credit note and email shows as its sender (one row,
    id ``company``; the fields as ``billing.company.updated`` carries them)."""

    __tablename__ = "company_profile"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# The tables of the classes above, for Core statements (the payment path's, built once).
accounts_table = cast(Table, Account.__table__)
invoices_table = cast(Table, Invoice.__table__)
applications_table = cast(Table, Application.__table__)
payments_listed_table = cast(Table, PaymentsListed.__table__)
ledger_table = cast(Table, LedgerEntry.__table__)
payments_table = cast(Table, ReceivedPayment.__table__)
credit_sources_table = cast(Table, CreditSource.__table__)
