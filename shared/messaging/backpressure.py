"""Backpressure: how deep the consuming queues are that a service's money-moving creates feed.

A service whose creates feed other services' queues (payments feeds billing's) names those
services in its definition. Its worker reads each queue's depth by passive declare every
``TAMEIO_BACKPRESSURE_POLL_SECONDS``, adds the events its own outbox has yet to publish (they
are headed for those queues), and stores the reading, with when it was taken, in the
service's own database (``queue_depths``); the web reads it there, so a web process still
never talks to the broker. A reading older than :data:`FRESH_FOR` counts for nothing: when
the broker is away no new readings arrive, the old ones age out and the API goes on
accepting (the outbox absorbs the outage). In embedded mode (``memory://``) nobody reads
depths, so there are never readings and never a 503 for this reason.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Select, String, Table, bindparam, select

from shared.clock import utcnow
from shared.db import Database, UTCDateTime, insert_for
from shared.messaging.link import BrokerLink, broker_connection
from shared.messaging.outbox import count_unpublished
from shared.messaging.topology import Topology

# Older readings are ignored: a broker outage (no new readings) never turns into 503s.
FRESH_FOR = dt.timedelta(seconds=30)
TABLE = "queue_depths"


def queue_depths_table(metadata: MetaData) -> Table:
    """Add (once) and return the table of queue depth readings of a service's database."""
    existing = metadata.tables.get(TABLE)
    if existing is not None:
        return existing
    return Table(
        TABLE,
        metadata,
        Column("queue", String(200), primary_key=True),
        Column("depth", Integer, nullable=False),
        Column("read_at", UTCDateTime, nullable=False),
    )


@dataclass(frozen=True)
class Reading:
    queue: str
    depth: int
    read_at: dt.datetime


def deepest_fresh_reading(db: Database, now: dt.datetime | None = None) -> Reading | None:
    """The deepest reading taken within :data:`FRESH_FOR` of ``now``; None if there is none
    (or the service keeps no readings)."""
    table = db.metadata.tables.get(TABLE)
    if table is None:
        return None
    since = (now or utcnow()) - FRESH_FOR
    with db.engine.connect() as conn:
        row = conn.execute(_deepest_since(table), {"since": since}).first()
        conn.rollback()
    return None if row is None else Reading(row.queue, row.depth, row.read_at)


@functools.cache
def _deepest_since(table: Table) -> Select[Any]:
    """Built once per table: every money-moving create may run it."""
    return (
        select(table.c.queue, table.c.depth, table.c.read_at)
        .where(table.c.read_at >= bindparam("since", type_=table.c.read_at.type))
        .order_by(table.c.depth.desc())
        .limit(1)
    )


class DepthGauge(BrokerLink):
    """The worker part that reads the depths of ``queues`` every ``every`` seconds and
    stores them; on any failure it starts over with back-off (the readings age out)."""

    def __init__(
        self, db: Database, broker_url: str, queues: Sequence[str], every: float = 1.0
    ) -> None:
        super().__init__(broker_url, f"queue depth gauge {db.service}")
        self.db = db
        self.queues = list(queues)
        self.every = every
        self.table = queue_depths_table(db.metadata)

    @classmethod
    def for_services(
        cls,
        db: Database,
        broker_url: str,
        topology: Topology,
        services: Sequence[str],
        every: float,
    ) -> DepthGauge:
        return cls(db, broker_url, [topology.queue_name(s) for s in services], every)

    def session(self, stop: threading.Event) -> None:
        with broker_connection(self.broker_url) as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.channel()
            self.connected = True
            self.state = "reading"
            while not stop.is_set():
                began = time.monotonic()
                backlog = self.outbox_backlog()
                self.store(
                    {
                        name: channel.queue_declare(name, passive=True).message_count + backlog
                        for name in self.queues
                    }
                )
                self.failures.succeeded()
                stop.wait(max(self.every - (time.monotonic() - began), 0.0))

    def outbox_backlog(self) -> int:
        """Events this service committed that the relay has yet to publish: they are on their
        way to the queues it feeds, so they count in each reading (a broker outage stops the
        readings, so a backlog it causes never turns into 503s)."""
        outbox = self.db.tables.outbox
        with self.db.engine.connect() as conn:
            waiting, _oldest = count_unpublished(conn, outbox)
            conn.rollback()
        return waiting

    def store(self, depths: dict[str, int], at: dt.datetime | None = None) -> None:
        """Record one reading per queue, replacing the previous one."""
        if not depths:
            return
        at = at or utcnow()
        stmt = insert_for(self.db.dialect)(self.table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[self.table.c.queue],
            set_={"depth": stmt.excluded.depth, "read_at": stmt.excluded.read_at},
        )
        with self.db.engine.begin() as conn:
            conn.execute(
                stmt, [{"queue": q, "depth": int(d), "read_at": at} for q, d in depths.items()]
            )
