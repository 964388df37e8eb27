"""Database access for one service: engine, platform tables, unit of work, counters.

Every service owns one database. Besides its business tables, each database holds the
platform tables the messaging needs (outbox, inbox, retries, dead letters, counters,
idempotency keys, worker status); :func:`platform_tables` adds them to the service's
metadata so its Alembic migrations create them like any other table.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any, Self

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
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
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(120), nullable=False),
        Column("subject", String(64), nullable=False),
        Column("sequence", BigInteger, nullable=False),
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
    inbox = Table(
        "inbox",
        metadata,
        Column("event_id", String(64), primary_key=True),
        Column("event_type", String(120), nullable=False),
        Column("received_at", UTCDateTime, nullable=False),
    )
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
    counters = Table(
        "counters",
        metadata,
        Column("name", String(200), primary_key=True),
        Column("value", BigInteger, nullable=False),
    )
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
    tables = PlatformTables(
        outbox, inbox, retries, dead_letters, counters, idempotency_keys, worker_status
    )
    metadata.info["tameio_platform"] = tables
    return tables


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout and BEGIN IMMEDIATE: SQLite as a safe many-thread writer."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **options: Any) -> Engine:
    """An engine configured for the dialect: SQLite for embedded mode, PostgreSQL otherwise."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **options
        )
        _configure_sqlite(engine)
        return engine
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", 5)
    options.setdefault("max_overflow", 10)
    # No JIT compilation: these are short queries, and where the planner overestimates one
    # (a per-row lookup it prices as a scan) compiling costs more than running it.
    options.setdefault("connect_args", {"options": "-c jit=off"})
    return create_engine(url, **options)


class Database:
    """One service's database: the engine, its platform tables and the relay wake-up signal."""

    def __init__(self, service: str, url: str, metadata: MetaData, **engine_options: Any) -> None:
        self.service = service
        self.url = url
        self.metadata = metadata
        self.tables = platform_tables(metadata)
        self.engine = make_engine(url, **engine_options)
        # Set when a unit of work committed events: wakes an in-process relay at once.
        self.outbox_signal = threading.Event()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def notify_channel(self) -> str:
        return f"tameio_outbox_{self.service}"

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self)

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


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
    key = next(iter(table.primary_key.columns))
    stmt = dialect_insert(session)(table).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(stmt).first() is not None


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


NOTIFY = text("SELECT pg_notify(:channel, '')")
LOCAL_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")


class UnitOfWork:
    """A transaction on the service's database; leaving the block without commit rolls back.

    State changes and the events they cause are written together: :meth:`emit` collects
    events, and :meth:`commit` writes them to the outbox in this same transaction and makes
    both durable at once.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.tables = db.tables
        self.session = Session(db.engine, expire_on_commit=False, autoflush=True)
        self.events: list[dict[str, Any]] = []
        self._written = 0  # how many of self.events are already in the outbox
        self._committed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._committed:
            self.session.rollback()
        self.session.close()

    def emit(self, event_type: str, subject: str, data: Any, *, version: int = 1) -> dict[str, Any]:
        """Add an event to this transaction; returns its envelope, whose ``sequence`` is
        set when :meth:`commit` writes it to the outbox with the state change.

        Raises InvalidEventData at once if the event's schema rejects ``data``."""
        from shared.messaging.outbox import new_envelope

        envelope = new_envelope(
            source=self.db.service,
            event_type=event_type,
            subject=subject,
            data=data,
            version=version,
        )
        self.events.append(envelope)
        return envelope

    def next_number(self, name: str) -> int:
        """The next gapless number of a counter (invoices, credit notes): concurrent writers
        of the same counter wait for this transaction to end."""
        return next_counter(self.session, self.tables.counters, name)

    def take_number(self, name: str) -> int:
        """The next number of a counter, taken in a short transaction of its own so that
        concurrent writers never wait for this one (payments, refunds): unique and
        increasing, but a request that fails after taking it leaves a gap.

        The counter's commit need not reach the disk by itself (``synchronous_commit``
        off): this transaction's own commit flushes the log up to and past it, and if this
        transaction never commits, reusing the number is harmless. On SQLite, where writers
        are serialized anyway, the number is taken in this transaction.
        """
        if self.db.dialect != "postgresql":
            return self.next_number(name)
        with self.db.engine.begin() as conn:
            conn.execute(LOCAL_ASYNC_COMMIT)
            return next_counter(conn, self.tables.counters, name)

    def commit(self) -> None:
        """Write the emitted events to the outbox, then commit them with the state change."""
        from shared.messaging.outbox import write_outbox

        pending = self.events[self._written :]
        if pending:
            write_outbox(self.session, self.tables, pending)
            self._written = len(self.events)
            if self.db.dialect == "postgresql":
                # Wakes the relay; PostgreSQL delivers it only if and when this commits.
                self.session.execute(NOTIFY, {"channel": self.db.notify_channel})
        self.session.commit()
        self._committed = True
        if pending:
            self.db.outbox_signal.set()
