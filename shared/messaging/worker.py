"""A service's worker: outbox relay, queue consumer, retry runner, status and jobs.

Web processes never hold an AMQP connection; everything that talks to the broker runs
here, each part in its own thread with its own connection (connections are never shared
between threads).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from shared.clock import utcnow
from shared.config import Settings
from shared.db import Database, insert_for, next_counter
from shared.messaging.backpressure import DepthGauge
from shared.messaging.consumer import EventProcessor, Handler, QueueConsumer
from shared.messaging.link import FailureLog
from shared.messaging.relay import Relay
from shared.messaging.topology import Topology

log = logging.getLogger(__name__)

# How long a stopping worker waits for its parts in all: below Kubernetes' default grace
# period of 30 s, so a batch in hand is finished and acked before any SIGKILL.
STOP_SECONDS = 20.0


@dataclass(frozen=True)
class Job:
    """Scheduled work run once a day (after ``at``) by the active worker, for ``as_of``."""

    name: str
    run: Callable[[Database, dt.date], Any]
    at: dt.time = dt.time(1, 0)


@dataclass(frozen=True)
class Loop:
    """Background work the active worker repeats: ``run`` returns how much it did; when it
    did nothing the loop sleeps ``every`` seconds (e.g. delivering queued emails)."""

    name: str
    run: Callable[[Database, Settings], int]
    every: float = 1.0


class Worker:
    """Runs every background part of one service until stopped."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        topology: Topology,
        *,
        handlers: Mapping[str, Handler] | None = None,
        jobs: Sequence[Job] = (),
        loops: Sequence[Loop] = (),
        consumer_linger: float = 0.0,
        backpressure: Sequence[str] = (),
    ) -> None:
        self.settings = settings
        self.db = db
        self.topology = topology
        self.jobs = list(jobs)
        self.loops = list(loops)
        self.stop_event = threading.Event()
        self.relay = Relay(
            db,
            settings.broker_url,
            settings.exchange,
            poll_seconds=settings.relay_poll_seconds,
            declare_exchange=not topology.passive,
        )
        self.processor: EventProcessor | None = None
        self.consumer: QueueConsumer | None = None
        if handlers:
            self.processor = EventProcessor(
                db,
                handlers,
                retry_window=dt.timedelta(seconds=settings.retry_window_seconds),
                base_delay=settings.retry_base_delay_seconds,
            )
            self.consumer = QueueConsumer(
                self.processor,
                settings.broker_url,
                topology,
                settings.service,
                linger=consumer_linger
                if settings.consumer_linger_seconds is None
                else settings.consumer_linger_seconds,
            )
        # Embedded mode reads no depths: one process, no queue to fall behind in on its own.
        self.gauge: DepthGauge | None = None
        if backpressure and not settings.embedded:
            self.gauge = DepthGauge.for_services(
                db, settings.broker_url, topology, backpressure, settings.backpressure_poll_seconds
            )
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        service = self.settings.service
        parts: list[tuple[str, Callable[[threading.Event], None]]] = [
            ("relay", self.relay.run),
            ("status", self._report_status),
        ]
        if self.consumer is not None:
            parts += [("consumer", self.consumer.run), ("retries", self._run_retries)]
        if self.gauge is not None:
            parts.append(("depths", self.gauge.run))
        if self.jobs:
            parts.append(("jobs", self._run_jobs))
        for loop in self.loops:
            parts.append((loop.name, functools.partial(self._repeat, loop)))
        for name, target in parts:
            thread = threading.Thread(
                target=target, args=(self.stop_event,), name=f"{service}-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        log.info("worker %s started: %s", service, ", ".join(name for name, _ in parts))

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Stop every part and wait for them, ``timeout`` seconds in all; True if all
        stopped. A consumer finishes (and acks) the batch in hand first; whatever it had
        not acked goes back to the queue when its channel closes."""
        self.stop_event.set()
        self.db.outbox_signal.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        late = [thread.name for thread in self._threads if thread.is_alive()]
        self._threads.clear()
        if late:
            log.warning(
                "worker %s: %s still running after %.0fs",
                self.settings.service,
                ", ".join(late),
                timeout,
            )
        else:
            log.info("worker %s stopped", self.settings.service)
        return not late

    def run_forever(self, heartbeat: Path | None = None) -> bool:
        """Run until ``stop_event`` is set (a signal handler sets it), then stop; True if
        every part stopped in time. While every part runs, ``heartbeat`` is touched each
        second (what the container's liveness probe reads)."""
        self.start()
        try:
            while not self.stop_event.wait(1.0):
                if heartbeat is not None and all(t.is_alive() for t in self._threads):
                    heartbeat.touch()
        finally:
            if heartbeat is not None:
                heartbeat.unlink(missing_ok=True)
        log.info("worker %s stopping", self.settings.service)
        return self.stop()

    # -- parts ----------------------------------------------------------------------------

    def _run_retries(self, stop: threading.Event) -> None:
        assert self.processor is not None
        failures = FailureLog(f"retry runner {self.settings.service}")
        while not stop.is_set():
            try:
                ran = self.processor.run_due_retries()
                failures.succeeded()
                if ran == 0:
                    stop.wait(0.5)
            except Exception as exc:
                failures.failed(exc, "trying again in 2s")
                stop.wait(2.0)

    @property
    def broker_connected(self) -> bool:
        return self.relay.connected and (self.consumer is None or self.consumer.connected)

    def _report_status(self, stop: threading.Event) -> None:
        """Write what only the worker knows (broker state, lag) where /metrics can read it."""
        failures = FailureLog(f"status {self.settings.service}")
        next_prune = 0.0
        while not stop.is_set():
            try:
                self.write_status()
                if self.relay.active and utcnow().timestamp() >= next_prune:
                    self.prune()
                    next_prune = utcnow().timestamp() + 3600
                failures.succeeded()
            except Exception as exc:
                failures.failed(exc, "trying again in 2s")
            stop.wait(2.0)

    def write_status(self) -> None:
        table = self.db.tables.worker_status
        link = self.consumer or self.relay  # the consumer's state where there is one
        values = {
            "name": "worker",
            "broker_connected": self.broker_connected,
            "consumer_lag": self.consumer.lag if self.consumer else None,
            "relay_active": self.relay.active,
            "updated_at": utcnow(),
            "consumer_state": link.state,
            "consumer_restarts": link.restarts,
            "last_error": link.last_error,
        }
        stmt = insert_for(self.db.dialect)(table).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.name], set_={k: stmt.excluded[k] for k in values if k != "name"}
        )
        with self.db.engine.begin() as conn:
            conn.execute(stmt)

    def prune(self) -> None:
        """Forget published outbox rows after a week and idempotency keys after two days."""
        tables = self.db.tables
        now = utcnow()
        with self.db.engine.begin() as conn:
            conn.execute(
                delete(tables.outbox).where(
                    tables.outbox.c.published_at < now - dt.timedelta(days=7)
                )
            )
            conn.execute(
                delete(tables.idempotency_keys).where(
                    tables.idempotency_keys.c.created_at < now - dt.timedelta(days=2)
                )
            )

    def _repeat(self, loop: Loop, stop: threading.Event) -> None:
        while not stop.is_set():
            done = 0
            if self.relay.active:  # one worker per service does it
                try:
                    done = loop.run(self.db, self.settings)
                except Exception:
                    log.exception("%s failed", loop.name)
            if not done:
                stop.wait(loop.every)

    def _run_jobs(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.relay.active:  # the active relay's worker is the one scheduler
                for job in self.jobs:
                    try:
                        self.run_job_if_due(job, utcnow())
                    except Exception:
                        log.exception("job %s failed", job.name)
            stop.wait(30.0)

    def run_job_if_due(self, job: Job, now: dt.datetime) -> bool:
        """Run ``job`` for the business date of ``now`` unless it already ran for it."""
        local = now.astimezone(self.settings.timezone)
        as_of = local.date()
        if local.time() < job.at:
            return False
        counters = self.db.tables.counters
        name = f"job:{job.name}"
        with self.db.engine.connect() as conn:
            last = conn.execute(select(counters.c.value).where(counters.c.name == name)).scalar()
            conn.rollback()
        if last is not None and last >= as_of.toordinal():
            return False
        # The job runs in its own transactions; jobs are idempotent for a date, so a crash
        # before the date is recorded below only means it runs again.
        job.run(self.db, as_of)
        with self.db.unit_of_work() as uow:
            next_counter(uow.session, counters, name)
            uow.session.execute(
                counters.update().where(counters.c.name == name).values(value=as_of.toordinal())
            )
            uow.commit()
        log.info("job %s ran for %s", job.name, as_of)
        return True
