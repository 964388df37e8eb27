"""Database access for one service: engine, unit of work, and the shared schema's names.

Every service owns one database. Its column types, platform tables and counter statements
live in :mod:`shared.tables` and are re-exported here, so a service imports its database
tools from one place (and migrations keep finding ``shared.db.UTCDateTime``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, select, text
from sqlalchemy.orm import Session

from shared.messaging.outbox import dumped_envelope, new_envelope, write_outbox
from shared.prebuilt import Prebuilt
from shared.tables import (
    NAMING_CONVENTION,
    BigId,
    PlatformTables,
    UTCDateTime,
    dialect_insert,
    insert_for,
    insert_if_absent,
    new_metadata,
    next_counter,
    platform_tables,
)

__all__ = [
    "NAMING_CONVENTION",
    "BigId",
    "Database",
    "PlatformTables",
    "Prebuilt",
    "UTCDateTime",
    "UnitOfWork",
    "dialect_insert",
    "insert_for",
    "insert_if_absent",
    "make_engine",
    "new_metadata",
    "next_counter",
    "platform_tables",
]


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
    # No ping before each transaction (a round trip each, about a tenth of a consumer's CPU
    # one message at a time): a connection found dead invalidates the whole pool, a web
    # request then runs again on a fresh one (shared/web/app.py: is_transient), and a
    # worker tries its batch again.
    options.setdefault("pool_pre_ping", False)
    options.setdefault("pool_size", 5)
    options.setdefault("max_overflow", 10)
    # No JIT compilation: these are short queries, and where the planner overestimates one
    # (a per-row lookup it prices as a scan) compiling costs more than running it.
    options.setdefault("connect_args", {"options": "-c jit=off"})
    return create_engine(url, **options)


class Database:
    """One service's database: the engine, its platform tables and the relay wake-up signal."""

    def __init__(
        self,
        service: str,
        url: str,
        metadata: MetaData,
        *,
        legacy_event_versions: bool = True,
        **engine_options: Any,
    ) -> None:
        self.service = service
        # Whether to publish an event's older version beside its successor (the setting
        # TAMEIO_LEGACY_EVENT_VERSIONS); the commands that publish both ask.
        self.legacy_event_versions = legacy_event_versions
        self.url = url
        self.metadata = metadata
        self.tables = platform_tables(metadata)
        self.engine = make_engine(url, **engine_options)
        # Set when a unit of work committed events: wakes an in-process relay at once.
        self.outbox_signal = threading.Event()
        self._number_sequences: set[str] = set()  # those known to exist (PostgreSQL)

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

    def number_sequence(self, counter: str) -> str:
        """The PostgreSQL sequence that hands out the numbers of ``counter`` (e.g.
        ``payment:2026``), created on its first use in its own short transaction so that it
        goes on from the counter's value (numbers taken before sequences existed)."""
        sequence = "number_" + re.sub(r"[^a-z0-9]+", "_", counter.lower())[:56]
        if sequence in self._number_sequences:
            return sequence
        with self.engine.begin() as conn:
            # Two processes creating the same sequence take turns; the second finds it made.
            conn.execute(SEQUENCE_CREATION_LOCK, {"sequence": sequence})
            counters = self.tables.counters
            taken = conn.execute(
                select(counters.c.value).where(counters.c.name == counter)
            ).scalar()
            start = int(taken or 0) + 1
            conn.execute(text(f"CREATE SEQUENCE IF NOT EXISTS {sequence} START WITH {start}"))
        self._number_sequences.add(sequence)
        return sequence


NOTIFY = Prebuilt(text("SELECT pg_notify(:channel, '')"))
SEQUENCE_CREATION_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:sequence))")
NEXT_IN_SEQUENCE = Prebuilt(text("SELECT nextval(CAST(:sequence AS regclass))"))


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
        self._collected: dict[str, tuple[list[Any], Callable[[list[Any]], None]]] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._committed:
            self.session.rollback()
        self.session.close()

    def connection(self) -> Connection:
        """This transaction's connection, for Core statements (inserts, upserts, counters):
        run there rather than through the session, they skip its ORM execution machinery.
        Objects added to the session are flushed first, as the session does before a Core
        statement, so the statement sees them."""
        if self.session.autoflush:
            self.session.flush()  # returns at once when nothing is pending
        return self.session.connection()

    def run(
        self, statement: Prebuilt, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> list[Any]:
        """Run a statement built once in this transaction (on PostgreSQL as SQL compiled
        once, see :mod:`shared.prebuilt`); its rows, none for a statement without."""
        return statement.rows(self.connection(), params)

    def emit(self, event_type: str, subject: str, data: Any, *, version: int = 1) -> dict[str, Any]:
        """Add an event to this transaction; returns its envelope, whose ``sequence`` is
        set when :meth:`commit` writes it to the outbox with the state change.

        Raises InvalidEventData at once if the event's schema rejects ``data``."""
        envelope = new_envelope(
            source=self.db.service,
            event_type=event_type,
            subject=subject,
            data=data,
            version=version,
        )
        self.events.append(envelope)
        return envelope

    def emit_dumped(
        self, event_type: str, subject: str, wire_data: dict[str, Any], *, version: int = 1
    ) -> dict[str, Any]:
        """:meth:`emit` for data already in its wire form, made of parts this service dumped
        and checked (see :func:`dumped_envelope`): what would cost most to dump again."""
        envelope = dumped_envelope(
            source=self.db.service,
            event_type=event_type,
            subject=subject,
            wire_data=wire_data,
            version=version,
        )
        self.events.append(envelope)
        return envelope

    def next_number(self, name: str) -> int:
        """The next gapless number of a counter (invoices, credit notes): concurrent writers
        of the same counter wait for this transaction to end."""
        return next_counter(self.session, self.tables.counters, name)

    def take_number(self, name: str) -> int:
        """The next number of a counter that may have gaps (payments, refunds): unique and
        increasing, and concurrent writers never wait for one another, but a request that
        fails after taking it leaves a gap.

        On PostgreSQL it comes from a sequence (:meth:`Database.number_sequence`), one
        statement in this transaction that no other transaction waits on. On SQLite, where
        writers are serialized anyway, it is the counter's next value in this transaction.
        """
        if self.db.dialect != "postgresql":
            return self.next_number(name)
        sequence = self.db.number_sequence(name)
        ((number,),) = self.run(NEXT_IN_SEQUENCE, {"sequence": sequence})
        return int(number)

    def collect(self, name: str, write: Callable[[list[Any]], None]) -> list[Any]:
        """This transaction's list called ``name`` (created with ``write`` on first use),
        handed to ``write`` just before the commit: what each of a batch's handlers adds to
        it is written in one statement rather than one per event."""
        entry = self._collected.get(name)
        if entry is None:
            entry = self._collected[name] = ([], write)
        return entry[0]

    def commit(self) -> None:
        """Write what was collected, and the emitted events to the outbox, then commit them
        with the state change."""
        for items, write in self._collected.values():
            if items:
                write(list(items))
                items.clear()
        pending = self.events[self._written :]
        if pending:
            write_outbox(self.connection(), self.tables, pending)
            self._written = len(self.events)
            if self.db.dialect == "postgresql":
                # Wakes the relay; PostgreSQL delivers it only if and when this commits.
                self.run(NOTIFY, {"channel": self.db.notify_channel})
        self.session.commit()
        self._committed = True
        if pending:
            self.db.outbox_signal.set()
