"""The notifier database: the reminder policy, every notification and its delivery, and
replicas of customers and invoices."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Date, Integer, String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, new_metadata, platform_tables
from shared.replicas import company_replica_table, customer_replica_table, invoice_replica_table


class Base(DeclarativeBase):
    metadata = new_metadata()


platform = platform_tables(Base.metadata)
customer_replica = customer_replica_table(Base.metadata)
invoice_replica = invoice_replica_table(Base.metadata)
company_replica = company_replica_table(Base.metadata)


class PolicyLevel(Base):
    __tablename__ = "policy_levels"

    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    days_after_due: Mapped[int] = mapped_column(Integer)
    template: Mapped[str] = mapped_column(String(40))


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    cause: Mapped[str] = mapped_column(String(160), unique=True)  # one notification per cause
    kind: Mapped[str] = mapped_column(String(30), index=True)
    level: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(10))
    to: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # queued | sending | sent | failed | cancelled (withdrawn before it went)
    status: Mapped[str] = mapped_column(String(10), index=True)
    invoice_id: Mapped[str | None] = mapped_column(String(64), index=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    payment_id: Mapped[str | None] = mapped_column(String(64))
    # Set when first claimed for sending, under the sender's domain; kept for a resend.
    message_id: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The business day it was queued for (reminders: the run's as_of), so the spacing of
    # reminder levels counts business days whatever day the run happened on.
    business_date: Mapped[dt.date | None] = mapped_column(Date)
    # What its cause said (the event's data; a reminder's level and day), so that it is
    # written again from billing's figures when it is sent. None: sent as queued.
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
