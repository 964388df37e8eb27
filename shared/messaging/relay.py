"""The outbox relay: publishes outbox rows in order, with publisher confirms.

One relay is active per service: on PostgreSQL the one holding the service's advisory
lock (others stand by), which also listens for the NOTIFY a committing unit of work sends;
on SQLite (embedded mode, one process) the in-process signal wakes it. It polls as a
fallback. Rows are published in primary-key order, confirms are awaited per batch with a
timeout, and only confirmed rows are marked published; after any failure the relay
reconnects and publishes again from the first unmarked row, so events are never lost or
reordered (they may be duplicated; consumers' inboxes absorb that).
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from kombu import Connection as BrokerConnection
from kombu import Exchange
from sqlalchemy import (
    BigInteger,
    Connection,
    Select,
    Table,
    Update,
    any_,
    bindparam,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from shared.clock import utcnow
from shared.db import Database
from shared.events.catalog import is_legacy
from shared.messaging.link import BrokerLink, broker_connection
from shared.messaging.topology import LEGACY_HEADER
from shared.prebuilt import Prebuilt

log = logging.getLogger(__name__)


class ConfirmTimeout(Exception):
    """The broker did not confirm a batch in time."""


class PublishNacked(Exception):
    """The broker refused (nacked) a message of the batch."""


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg advisory locks."""
    return zlib.crc32(name.encode()) - 2**31


def pg_connect(db: Database) -> psycopg.Connection[Any]:
    """A plain psycopg connection to the service database (for LISTEN and advisory locks)."""
    url = db.engine.url
    return psycopg.connect(
        host=url.host or None,
        port=url.port or None,
        user=url.username or None,
        password=url.password or None,
        dbname=url.database,
        autocommit=True,
        **{str(k): v for k, v in url.query.items()},  # type: ignore[arg-type]
    )


class _BatchConfirms:
    """Publisher confirms counted per batch on a py-amqp channel (no wait per message)."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        channel.confirm_select()
        self.next_tag = 1
        self.pending: set[int] = set()
        self.nacked = False
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)

    def _settle(self, tag: int, multiple: bool) -> None:
        if multiple:
            self.pending = {t for t in self.pending if t > tag}
        else:
            self.pending.discard(tag)

    def _on_ack(self, tag: int, multiple: bool) -> None:
        self._settle(tag, multiple)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self.nacked = True
        self._settle(tag, multiple)

    def published(self) -> None:
        self.pending.add(self.next_tag)
        self.next_tag += 1

    def wait(self, connection: BrokerConnection, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConfirmTimeout(f"{len(self.pending)} messages not confirmed in {timeout}s")
            with suppress(socket.timeout, TimeoutError):
                connection.drain_events(timeout=remaining)
        if self.nacked:
            raise PublishNacked("the broker nacked a message of the batch")


def _pending_rows(outbox: Table, batch_size: int) -> Select[Any]:
    """The next ``batch_size`` unpublished rows, in order."""
    return (
        select(
            outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.version, outbox.c.payload
        )
        .where(outbox.c.published_at.is_(None))
        .order_by(outbox.c.id)
        .limit(batch_size)
    )


def _mark_published(outbox: Table, dialect: str) -> Update:
    """Marks the rows ``ids`` published at ``now``: the same statement whatever their number
    (on PostgreSQL one array parameter, which costs a tenth of an IN list's per row)."""
    if dialect == "postgresql":
        chosen = outbox.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger)))
    else:
        chosen = outbox.c.id.in_(bindparam("ids", expanding=True))
    return update(outbox).where(chosen).values(published_at=bindparam("now"))


class Relay(BrokerLink):
    """Publishes one service's outbox to the events exchange."""

    def __init__(
        self,
        db: Database,
        broker_url: str,
        exchange: str,
        *,
        batch_size: int = 500,
        confirm_timeout: float = 10.0,
        poll_seconds: float = 1.0,
        republish_window: dt.timedelta = dt.timedelta(minutes=10),
        declare_exchange: bool = True,
    ) -> None:
        super().__init__(broker_url, f"relay {db.service}")
        self.db = db
        self.exchange = Exchange(exchange, type="topic", durable=True)
        self.batch_size = batch_size
        self.confirm_timeout = confirm_timeout
        self.poll_seconds = poll_seconds
        self.republish_window = republish_window
        self.declare_exchange = declare_exchange  # False: only check that it exists
        self.active = False
        self.published_total = 0
        self._listener: psycopg.Connection[Any] | None = None
        # Built once, and on PostgreSQL compiled once: building them each round, and
        # SQLAlchemy's execution machinery, cost more than running them.
        self._pending = Prebuilt(_pending_rows(db.tables.outbox, batch_size))
        self._mark = Prebuilt(_mark_published(db.tables.outbox, db.dialect))

    # -- leadership -----------------------------------------------------------------------

    @contextmanager
    def _leadership(self) -> Iterator[bool]:
        """Hold the service's advisory lock (PostgreSQL); SQLite has one process anyway."""
        if self.db.dialect != "postgresql":
            yield True
            return
        conn = pg_connect(self.db)
        try:
            key = advisory_key(f"relay:{self.db.service}")
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if not (row and row[0]):
                yield False
                return
            conn.execute(f'LISTEN "{self.db.notify_channel}"')
            self._listener = conn
            yield True
        finally:
            self._listener = None
            conn.close()

    def _wait_for_work(self, timeout: float) -> None:
        if self._listener is not None:
            # Returns at the first NOTIFY or after the timeout; also proves the lock is held.
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                pass
        else:
            self.db.outbox_signal.wait(timeout)
        self.db.outbox_signal.clear()

    # -- the loop -------------------------------------------------------------------------

    def session(self, stop: threading.Event) -> None:
        """Publish while this worker holds the service's relay lock; stand by otherwise."""
        try:
            with self._leadership() as leader:
                self.active = leader
                if leader:
                    self._run_connected(stop)
                else:
                    stop.wait(2.0)
        finally:
            self.active = False

    @contextmanager
    def _outbox_connection(self) -> Iterator[Connection | None]:
        """On PostgreSQL, a database connection of the relay's own while it is connected: no
        pool check-out per round, each statement its own transaction, and marking rows
        published does not wait for the disk (a mark lost in a crash only means those events
        are published again, which consumers absorb). Detached from the pool, so its session
        settings end with it. Its statements are planned at each call (the outbox grows from
        empty, and a plan PostgreSQL cached while it was small, reading the whole table, would
        stay), and never as a bitmap scan: until a vacuum, the indexes still hold an entry
        for every row published since, and only a plain index scan marks those dead as it
        passes (a bitmap scan reads their table pages at every round). On SQLite: None (one
        short transaction per statement)."""
        if self.db.dialect != "postgresql":
            yield None
            return
        with self.db.engine.connect() as db_conn:
            db_conn.execution_options(isolation_level="AUTOCOMMIT")
            db_conn.exec_driver_sql("SET synchronous_commit = off")
            db_conn.exec_driver_sql("SET plan_cache_mode = force_custom_plan")
            db_conn.exec_driver_sql("SET enable_bitmapscan = off")
            db_conn.detach()  # last: setting the isolation level needs the pool's record
            yield db_conn

    def _run_connected(self, stop: threading.Event) -> None:
        with self._outbox_connection() as db_conn, broker_connection(self.broker_url) as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.channel()
            self.exchange(channel).declare(passive=not self.declare_exchange)
            confirms = None if self.uses_memory_transport else _BatchConfirms(channel)
            self.connected = True
            self.state = "publishing"
            log.info("relay %s connected to the broker", self.db.service)
            if self.uses_memory_transport:
                self._republish_recent(channel)
            while not stop.is_set():
                sent = self.publish_pending(conn, channel, confirms, db_conn)
                self.failures.succeeded()
                if sent < self.batch_size:
                    self._wait_for_work(self.poll_seconds)

    def publish_pending(
        self,
        conn: BrokerConnection,
        channel: Any,
        confirms: _BatchConfirms | None,
        db_conn: Connection | None = None,
    ) -> int:
        """Publish the next batch of unpublished rows in order; returns how many."""
        rows = self._read_pending(db_conn)
        if not rows:
            return 0
        for _, event_id, event_type, version, payload in rows:
            self._publish(channel, event_id, event_type, version, payload)
            if confirms is not None:
                confirms.published()
        if confirms is not None:
            confirms.wait(conn, self.confirm_timeout)
        self._mark_published([row[0] for row in rows], db_conn)
        self.published_total += len(rows)
        return len(rows)

    def _read_pending(self, db_conn: Connection | None) -> Sequence[Any]:
        """The next batch of unpublished rows: (id, event_id, event_type, version, payload)."""
        with self._transaction(db_conn) as conn:
            return self._pending.rows(conn, {})

    def _mark_published(self, ids: list[int], db_conn: Connection | None) -> None:
        with self._transaction(db_conn) as conn:
            self._mark.rows(conn, {"ids": ids, "now": utcnow()})

    @contextmanager
    def _transaction(self, db_conn: Connection | None) -> Iterator[Connection]:
        """The relay's own connection (each statement commits by itself), else a short
        transaction of the pool's."""
        if db_conn is not None:
            yield db_conn
            return
        with self.db.engine.begin() as short:
            yield short

    def _publish(
        self, channel: Any, event_id: str, event_type: str, version: int | None, payload: str
    ) -> None:
        """Publish one event on the kombu ``channel`` (persistent; confirmed per batch). A
        legacy version carries the header :data:`LEGACY_HEADER`, by which the broker keeps
        it from the suite's own queues (see :mod:`shared.messaging.topology`).

        Straight to the channel, as kombu's Producer does in the end: the Producer's own
        steps (serializer, compression, declarations, retries), which the relay uses none
        of, cost an eighth of a publish."""
        legacy = version is not None and is_legacy(event_type, version)
        headers = {LEGACY_HEADER: "true"} if legacy else {}
        properties = {
            "delivery_mode": 2,
            "message_id": event_id,
            "type": event_type,
            "app_id": self.db.service,
            "timestamp": int(time.time()),
        }
        message = channel.prepare_message(
            payload.encode(), 0, "application/json", "utf-8", headers, properties
        )
        channel.basic_publish(message, exchange=self.exchange.name, routing_key=event_type)

    def _republish_recent(self, channel: Any) -> None:
        """Memory transport: queues died with the last process; resend what was recent."""
        outbox = self.db.tables.outbox
        since = utcnow() - self.republish_window
        with self.db.engine.connect() as db_conn:
            rows = db_conn.execute(
                select(outbox.c.event_id, outbox.c.event_type, outbox.c.version, outbox.c.payload)
                .where(outbox.c.published_at >= since)
                .order_by(outbox.c.id)
            ).all()
            db_conn.rollback()
        for row in rows:
            self._publish(channel, row.event_id, row.event_type, row.version, row.payload)
        if rows:
            log.info("relay %s republished %d recent events", self.db.service, len(rows))
