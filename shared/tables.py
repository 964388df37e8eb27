"""The schema every service database shares: column types, naming, the platform tables.

Besides its business tables, each database holds the platform tables the messaging needs
(outbox, inbox, retries, dead letters, counters, idempotency keys, worker status);
:func:`platform_tables` adds them to the service's metadata so its Alembic migrations
create them like any other table. The statements here (dialect INSERTs, counters) need
only a session, so both the unit of work (``shared.db``) and the outbox writer build on
this module without importing each other.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    bindparam,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

# Constraint names that Alembic can find again on every dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# An auto-incrementing 64-bit key; SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored and returned as timezone-aware UTC on every dialect."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[dt.datetime]:
        return dt.datetime

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


@dataclass(frozen=True)
class PlatformTables:
    outbox: Table
    inbox: Table
    retries: Table
    dead_letters: Table
    counters: Table
    idempotency_keys: Table
    worker_status: Table


def platform_tables(metadata: MetaData) -> PlatformTables:
    """Add (once) and return the messaging tables every service database holds."""
    existing = metadata.info.get("tameio_platform")
    if existing is not None:
        return existing
    tables = PlatformTables(
        _outbox(metadata),
        _inbox(metadata),
        _retries(metadata),
        _dead_letters(metadata),
        _counters(metadata),
        _idempotency_keys(metadata),
        _worker_status(metadata),
    )
    metadata.info["tameio_platform"] = tables
    return tables


def _outbox(metadata: MetaData) -> Table:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(120), nullable=False),
        Column("subject", String(64), nullable=False),
        Column("sequence", BigInteger, nullable=False),
        # The envelope's version; none on rows written before it was kept (decision 99).
        Column("version", SmallInteger, nullable=True),
        Column("payload", Text, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("published_at", UTCDateTime, nullable=True),
    )
    Index(
        "ix_outbox_unpublished",
        outbox.c.id,
        postgresql_where=outbox.c.published_at.is_(None),
        sqlite_where=outbox.c.published_at.is_(None),
    )
    Index("ix_outbox_published_at", outbox.c.published_at)
    return outbox


def _inbox(metadata: MetaData) -> Table:
    inbox = Table(
        "inbox",
        metadata,
        Column("event_id", String(64), primary_key=True),
        Column("event_type", String(120), nullable=False),
        Column("received_at", UTCDateTime, nullable=False),
    )
    return inbox


def _retries(metadata: MetaData) -> Table:
    retries = Table(
        "event_retries",
        metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=True),
        Column("event_type", String(120), nullable=True),
        Column("body", LargeBinary, nullable=False),  # the message's bytes, whatever they are
        Column("attempts", Integer, nullable=False),
        Column("first_failed_at", UTCDateTime, nullable=False),
        Column("due_at", UTCDateTime, nullable=False, index=True),
        Column("last_error", Text, nullable=False),
    )
    return retries


def _dead_letters(metadata: MetaData) -> Table:
    dead_letters = Table(
        "dead_letters",
        metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=True),
        Column("event_type", String(120), nullable=True),
        Column("body", LargeBinary, nullable=False),  # the message's bytes, whatever they are
        Column("error", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("origin", String(20), nullable=False),
        Column("first_failed_at", UTCDateTime, nullable=False),
        Column("parked_at", UTCDateTime, nullable=False),
        Column("replayed_at", UTCDateTime, nullable=True),
    )
    return dead_letters


def _counters(metadata: MetaData) -> Table:
    counters = Table(
        "counters",
        metadata,
        Column("name", String(200), primary_key=True),
        Column("value", BigInteger, nullable=False),
    )
    return counters


def _idempotency_keys(metadata: MetaData) -> Table:
    idempotency_keys = Table(
        "idempotency_keys",
        metadata,
        Column("scope", String(300), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response_body", Text, nullable=False),
        Column("headers", JSON, nullable=False),
        Column("created_at", UTCDateTime, nullable=False, index=True),
    )
    return idempotency_keys


def _worker_status(metadata: MetaData) -> Table:
    worker_status = Table(
        "worker_status",
        metadata,
        Column("name", String(50), primary_key=True),
        Column("broker_connected", Boolean, nullable=False),
        Column("consumer_lag", Integer, nullable=True),
        Column("relay_active", Boolean, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Column("consumer_state", String(40), nullable=True),
        Column("consumer_restarts", Integer, nullable=True),
        Column("last_error", Text, nullable=True),
    )
    return worker_status


def insert_for(dialect: str) -> Any:
    """The INSERT construct of a dialect by name (both have ON CONFLICT)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def dialect_insert(session: Session | Connection) -> Any:
    """The INSERT construct of the session's dialect."""
    bind = session.get_bind() if isinstance(session, Session) else session
    return insert_for(bind.dialect.name)


def insert_if_absent(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING in one round trip; True if the row was new.

    On PostgreSQL a concurrent transaction inserting the same key makes this wait for it and
    then report False, so the loser of a race learns it lost without an error.
    """
    bind = session.get_bind() if isinstance(session, Session) else session
    stmt = _insert_if_absent(table, bind.dialect.name, tuple(values))
    return session.execute(stmt, values).first() is not None


@functools.cache
def _insert_if_absent(table: Table, dialect: str, columns: tuple[str, ...]) -> Any:
    """The statement of :func:`insert_if_absent` for ``columns``, built once: every consumed
    event runs one (its inbox row)."""
    key = next(iter(table.primary_key.columns))
    new = insert_for(dialect)(table).values({name: bindparam(name) for name in columns})
    return new.on_conflict_do_nothing().returning(key)


def next_counter(session: Session | Connection, counters: Table, name: str) -> int:
    """Increment and return a named counter in the caller's transaction.

    The row lock this takes on PostgreSQL serializes concurrent writers of the same counter
    until the transaction ends, which makes numbers gapless and per-subject sequences ordered.
    """
    stmt = (
        dialect_insert(session)(counters)
        .values(name=name, value=1)
        .on_conflict_do_update(
            index_elements=[counters.c.name], set_={"value": counters.c.value + 1}
        )
        .returning(counters.c.value)
    )
    return int(session.execute(stmt).scalar_one())
