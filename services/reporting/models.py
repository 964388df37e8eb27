"""The reporting database: the raw event log every read model is rebuilt from."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, String, Text
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
