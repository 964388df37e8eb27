"""The reporting database: the raw event log, and read models rebuilt from it at will."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Index,
    String,
    Text,
    UniqueConstraint,
    bindparam,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import BigId, UTCDateTime, new_metadata, platform_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


platform = platform_tables(Base.metadata)


class LoggedEvent(Base):
    """One event as received, kept whole so read models can be rebuilt from it."""

    __tablename__ = "event_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int] = mapped_column()
    source: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(64), index=True)
    sequence: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    envelope: Mapped[str] = mapped_column(Text)


class ReportCustomer(Base):
    __tablename__ = "rp_customers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    sequence: Mapped[int] = mapped_column(BigInteger)


class ReportInvoice(Base):
    __tablename__ = "rp_invoices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    number: Mapped[str | None] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    net_minor: Mapped[int] = mapped_column(BigInteger)
    tax_minor: Mapped[int] = mapped_column(BigInteger)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    void_on: Mapped[dt.date | None] = mapped_column(Date)
    # Kept from the invoice's applied and unapplied movements, whatever order they arrived in
    # (commands.refresh_invoices): what they settled in all (paid or credited, net of
    # reversals), the first and last dates among them, and the day it owed nothing for good
    # (the last of those dates; the issue date for a zero total), null while it owes. So as of
    # any date the invoice owes its total before ``first_settled_on``, total - settled from
    # ``last_settled_on`` on, nothing from ``cleared_on`` on; only in between do its
    # movements need adding up (reports.aged_dues).
    settled_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    first_settled_on: Mapped[dt.date | None] = mapped_column(Date)
    last_settled_on: Mapped[dt.date | None] = mapped_column(Date)
    cleared_on: Mapped[dt.date | None] = mapped_column(Date)


class DayBalance(Base):
    """A customer's balance in one currency at the close of a day with account movements:
    the sum of its account movements dated that day or earlier. So a balance as of any past
    date is one index look-up (the last such day up to it), and a new movement changes one
    row per day from its own on, however many movements those days hold."""

    __tablename__ = "rp_day_balances"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    balance_minor: Mapped[int] = mapped_column(BigInteger)


class ReportBalance(Base):
    """A customer's balance in one currency: the sum of its account movements, all dates,
    and the last date among them (so as of that date or later the balance is this one)."""

    __tablename__ = "rp_balances"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    last_moved_on: Mapped[dt.date] = mapped_column(Date)


ACCOUNT_KINDS = ("invoice", "void", "payment", "reversal", "credit_note", "refund")
INVOICE_KINDS = ("applied", "unapplied")


class Movement(Base):
    """A dated money movement. Account kinds (invoice, void, payment, reversal, credit_note,
    refund) add up to the balance; invoice kinds (applied, unapplied) to what an invoice has
    had paid or credited. Sums do not care about arrival order."""

    __tablename__ = "rp_movements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(64))
    invoice_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    date: Mapped[dt.date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # The tax within ``amount_minor`` (same sign; credit notes only, 0 otherwise), so revenue
    # can state credit notes net like invoices.
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The payment, credit note or refund the money came from (payment, reversal, refund,
    # credit_note, applied, unapplied), so payment behaviour can tell payments from credits
    # and see which were reversed.
    source_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("event_id", "invoice_id", "kind", name="uq_rp_movements_event"),
        Index("ix_rp_movements_customer_date", "customer_id", "date"),
        Index("ix_rp_movements_invoice", "invoice_id", "date"),
    )


def kind_in(kinds: tuple[str, ...]) -> ColumnElement[bool]:
    """``rp_movements.kind IN (...)`` with the kinds written into the SQL rather than bound,
    so a prepared statement's generic plan still sees which kinds it is about."""
    return Movement.kind.in_(bindparam(None, list(kinds), expanding=True, literal_execute=True))
