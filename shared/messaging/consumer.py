"""The consumer runner: inbox de-duplication, retries with growing delay, dead letters.

:class:`EventProcessor` is the whole policy and knows no transport: it takes the raw body
of a message and either applies it (handler effects and the inbox row in one transaction),
recognises a duplicate, schedules a retry in the service's own database, or parks it as a
dead letter. Only after it returns does :class:`QueueConsumer` ack the message, so the
behaviour is the same on ``amqp://`` and ``memory://``; retries and dead letters live in
the database, never in broker-specific queue arguments.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar

from kombu import Consumer, Message
from marshmallow import ValidationError
from sqlalchemy import Table, delete, select, update
from sqlalchemy.exc import DataError

from shared.clock import utcnow
from shared.context import Trace, reset_trace, set_trace
from shared.db import Database, UnitOfWork, insert_for
from shared.events.catalog import UnknownEvent, is_known_type, load_data
from shared.events.loading import SchemaLoader
from shared.messaging.envelope import EnvelopeSchema, Event
from shared.messaging.errors import BadEvent
from shared.messaging.link import BrokerLink, broker_connection
from shared.messaging.topology import Topology

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, Event], None]
WILDCARD = "#"
ENVELOPE = SchemaLoader(EnvelopeSchema())
H = TypeVar("H", bound=Handler)


def handles_versions(*versions: int) -> Callable[[H], H]:
    """Say which versions of its event type a handler was written for (default: 1 only).

    Another version of that type (a slimmer one published side by side, or a newer one
    this service does not know yet) is acked and ignored, never handed to the handler and
    never parked (CONTRACT round 2, "Events")."""

    def mark(handler: H) -> H:
        handler.event_versions = frozenset(versions)  # type: ignore[attr-defined]
        return handler

    return mark


def versions_of(handler: Handler) -> frozenset[int]:
    versions: frozenset[int] = getattr(handler, "event_versions", frozenset({1}))
    return versions


class Outcome(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    RETRY = "retry"
    PARKED = "parked"
    SKIPPED = "skipped"  # a retry row another worker is handling


@dataclass(frozen=True)
class Attempt:
    """A message's failed attempts so far: how many (this one included), since when, and
    its row in the retry table if it has one."""

    number: int
    first_failed_at: dt.datetime | None
    retry_id: int | None


class _Park(Exception):
    """Internal: the message can never be handled."""


class EventProcessor:
    """Applies one message to a service: exactly once in effect, never lost, never looping."""

    def __init__(
        self,
        db: Database,
        handlers: Mapping[str, Handler],
        *,
        retry_window: dt.timedelta = dt.timedelta(minutes=15),
        base_delay: float = 1.0,
        max_delay: float = 120.0,
    ) -> None:
        self.db = db
        self.handlers = dict(handlers)
        self.retry_window = retry_window
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.counts: dict[Outcome, int] = dict.fromkeys(Outcome, 0)

    # -- parsing --------------------------------------------------------------------------

    def _parse(self, body: bytes) -> Event:
        """The event in ``body``; raises _Park for anything that is not a readable event of
        a known shape (parsing is pure, so whatever it raises is about the message)."""
        try:
            return self._read(body)
        except _Park:
            raise
        except Exception as exc:  # e.g. RecursionError from JSON nested thousands deep
            raise _Park(f"unreadable message: {type(exc).__name__}: {exc}") from None

    def _read(self, body: bytes) -> Event:
        try:
            raw = json.loads(body)
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            raise _Park(f"unparseable message: {exc}") from None
        try:
            envelope = ENVELOPE.load(raw)
        except ValidationError as exc:
            raise _Park(f"invalid envelope: {exc.messages}") from None
        event_type, version = envelope["type"], envelope["version"]
        try:
            if event_type in self.handlers and version not in versions_of(
                self.handlers[event_type]
            ):
                data = dict(envelope["data"])  # a version it does not handle: ignored, acked
            else:
                data = load_data(event_type, version, envelope["data"])
        except UnknownEvent as exc:
            if WILDCARD in self.handlers and event_type not in self.handlers:
                data = dict(envelope["data"])  # a wildcard consumer keeps what it cannot read
            elif event_type in self.handlers or not is_known_type(event_type):
                raise _Park(str(exc)) from None  # what no catalog describes is not an event
            else:
                data = dict(envelope["data"])  # another version of a type it does not handle
        except ValidationError as exc:
            raise _Park(f"invalid data for {event_type} v{version}: {exc.messages}") from None
        return Event(
            id=str(envelope["id"]),
            type=event_type,
            version=version,
            occurred_at=envelope["occurred_at"],
            source=envelope["source"],
            subject=envelope["subject"],
            sequence=envelope["sequence"],
            correlation_id=envelope["correlation_id"],
            causation_id=envelope["causation_id"],
            data=data,
            raw_data=envelope["data"],
        )

    def handler_for(self, event: Event) -> Handler | None:
        """The handler of ``event``; None if it is ignored: a type this service does not
        handle, or a version of a handled type its handler was not written for."""
        handler = self.handlers.get(event.type)
        if handler is None:
            return self.handlers.get(WILDCARD)
        return handler if event.version in versions_of(handler) else None

    # -- processing -----------------------------------------------------------------------

    def process(
        self,
        body: bytes | str,
        *,
        attempts: int = 0,
        first_failed_at: dt.datetime | None = None,
        retry_id: int | None = None,
    ) -> Outcome:
        """Handle one message body; returns what happened. Raises only if the database
        cannot even record a retry or a dead letter (the caller must then not ack)."""
        raw = message_bytes(body)
        event: Event | None = None
        tried = Attempt(attempts + 1, first_failed_at, retry_id)
        try:
            event = self._parse(raw)
            outcome = self._apply(event, retry_id)
        except _Park as exc:
            outcome = self._park(raw, event, str(exc), tried)
        except (BadEvent, ValidationError, DataError, UnicodeError) as exc:
            # Bad data: the handler's own checks, or the database refusing a value (a NUL
            # in a text field, a lone surrogate, a number out of range) fail the same way on
            # every attempt.
            error = f"{type(exc).__name__}: {exc}"
            outcome = self._park(raw, event, error, tried)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            outcome = self._retry_or_park(raw, event, error, tried)
        self.counts[outcome] += 1
        return outcome

    def process_batch(self, bodies: Sequence[bytes | str]) -> list[Outcome]:
        """Handle several message bodies in one transaction; returns an outcome per body.

        Under load this is what keeps a consumer's cost per event low: one inbox INSERT, one
        outbox write and one commit serve the whole batch. If anything in the batch fails,
        the transaction is rolled back and each body is processed on its own with
        :meth:`process`, so retries and dead letters work exactly as for single messages.
        Raises only if the database cannot even record a retry.
        """
        if len(bodies) == 1:
            return [self.process(bodies[0])]
        events: list[Event | None] = []
        for body in bodies:
            try:
                events.append(self._parse(message_bytes(body)))
            except _Park:
                events.append(None)  # parked below, on its own
        try:
            outcomes = self._apply_batch([e for e in events if e is not None])
        except Exception as exc:
            log.info("batch of %d fell back to one by one: %s", len(bodies), exc)
            return [self.process(body) for body in bodies]
        applied = iter(outcomes)
        results = []
        for body, event in zip(bodies, events, strict=True):
            if event is None:
                results.append(self.process(body))  # unreadable: parked, and counted there
                continue
            outcome = next(applied)
            self.counts[outcome] += 1
            results.append(outcome)
        return results

    def _apply_batch(self, events: list[Event]) -> list[Outcome]:
        """Apply ``events`` in order in one transaction; one outcome per event. Events this
        service ignores open none."""
        outcomes = [Outcome.IGNORED] * len(events)
        handled = [i for i, e in enumerate(events) if self.handler_for(e) is not None]
        if not handled:
            return outcomes
        with self.db.unit_of_work() as uow:
            first_seen: dict[str, int] = {}
            for i in handled:
                first_seen.setdefault(events[i].id, i)
            new_ids = self._record_in_inbox(uow, [events[i] for i in first_seen.values()])
            for i in handled:
                event = events[i]
                if first_seen[event.id] != i or event.id not in new_ids:
                    outcomes[i] = Outcome.DUPLICATE
                    continue
                self._run_handler(uow, event)
                outcomes[i] = Outcome.APPLIED
            uow.commit()
        return outcomes

    def _record_in_inbox(self, uow: UnitOfWork, events: list[Event]) -> set[str]:
        """Insert inbox rows for ``events`` (distinct ids); returns the ids not seen before."""
        if not events:
            return set()
        now = utcnow()
        stmt = _inbox_insert(self.db.tables.inbox, insert_for(self.db.dialect))
        rows = [{"event_id": e.id, "event_type": e.type, "received_at": now} for e in events]
        return {str(event_id) for event_id in uow.connection().execute(stmt, rows).scalars()}

    def _run_handler(self, uow: UnitOfWork, event: Event) -> None:
        handler = self.handler_for(event)
        assert handler is not None
        token = set_trace(
            Trace(
                request_id=event.id,
                correlation_id=event.correlation_id or event.id,
                causation_id=event.id,
            )
        )
        try:
            handler(uow, event)
        finally:
            reset_trace(token)

    def _apply(self, event: Event, retry_id: int | None) -> Outcome:
        handler = self.handler_for(event)
        if handler is None and retry_id is None:
            return Outcome.IGNORED  # nothing to record, so no transaction
        with self.db.unit_of_work() as uow:
            if retry_id is not None and not self._claim_retry(uow, retry_id):
                return Outcome.SKIPPED
            if handler is None:
                self._drop_retry(uow, retry_id)
                uow.commit()
                return Outcome.IGNORED
            if not self._record_in_inbox(uow, [event]):
                # Delivered before, or by a concurrent consumer just now.
                self._drop_retry(uow, retry_id)
                uow.commit()
                return Outcome.DUPLICATE
            self._run_handler(uow, event)
            self._drop_retry(uow, retry_id)
            uow.commit()
        return Outcome.APPLIED

    def _claim_retry(self, uow: UnitOfWork, retry_id: int) -> bool:
        retries = self.db.tables.retries
        query = select(retries.c.id).where(retries.c.id == retry_id)
        if self.db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return uow.session.execute(query).first() is not None

    def _drop_retry(self, uow: UnitOfWork, retry_id: int | None) -> None:
        if retry_id is not None:
            uow.session.execute(
                delete(self.db.tables.retries).where(self.db.tables.retries.c.id == retry_id)
            )

    def delay_for(self, attempts: int) -> float:
        """Growing delay before attempt ``attempts + 1``: 1, 2, 4, ... capped."""
        doublings = min(max(attempts - 1, 0), 32)  # beyond this the cap applies anyway
        return float(min(self.base_delay * 2**doublings, self.max_delay))

    def _retry_or_park(
        self, body: bytes, event: Event | None, error: str, tried: Attempt
    ) -> Outcome:
        now = utcnow()
        attempts, retry_id = tried.number, tried.retry_id
        first = tried.first_failed_at or now
        if now - first >= self.retry_window:
            gave_up = f"gave up after {attempts} attempts: {error}"
            return self._park(body, event, gave_up, Attempt(attempts, first, retry_id))
        retries = self.db.tables.retries
        due = now + dt.timedelta(seconds=self.delay_for(attempts))
        with self.db.unit_of_work() as uow:
            if retry_id is None:
                uow.session.execute(
                    retries.insert().values(
                        event_id=event.id[:64] if event else None,
                        event_type=event.type[:120] if event else None,
                        body=body,
                        attempts=attempts,
                        first_failed_at=first,
                        due_at=due,
                        last_error=printable(error, 4000),
                    )
                )
            else:
                uow.session.execute(
                    update(retries)
                    .where(retries.c.id == retry_id)
                    .values(attempts=attempts, due_at=due, last_error=printable(error, 4000))
                )
            uow.commit()
        log.info(
            "event %s will be retried (attempt %d): %s",
            event.id if event else "?",
            attempts,
            printable(error, 500),
        )
        return Outcome.RETRY

    def _park(
        self, body: bytes, event: Event | None, error: str, tried: Attempt, origin: str = "consumer"
    ) -> Outcome:
        """Keep the message as a dead letter: its exact bytes, the ids it names (made safe for
        a text column) and the reason. Never fails because of what the message contains."""
        now = utcnow()
        event_id = printable(event.id if event else _peek(body, "id"), 64) or None
        event_type = printable(event.type if event else _peek(body, "type"), 120) or None
        error = printable(error, 4000)
        with self.db.unit_of_work() as uow:
            uow.session.execute(
                self.db.tables.dead_letters.insert().values(
                    event_id=event_id,
                    event_type=event_type,
                    body=body,
                    error=error,
                    attempts=tried.number,
                    origin=origin,
                    first_failed_at=tried.first_failed_at or now,
                    parked_at=now,
                )
            )
            self._drop_retry(uow, tried.retry_id)
            uow.commit()
        log.warning("parked event %s (%s): %s", event_id, event_type, error[:500])
        return Outcome.PARKED

    def park_from_broker(self, body: bytes | str, reason: str) -> Outcome:
        """Record a message the broker dead-lettered (delivery limit reached)."""
        error = f"dead-lettered by the broker: {reason}"
        outcome = self._park(message_bytes(body), None, error, Attempt(0, None, None), "broker")
        self.counts[outcome] += 1
        return outcome

    def run_due_retries(self, limit: int = 100) -> int:
        """Process retries whose time has come; returns how many were attempted."""
        retries = self.db.tables.retries
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(retries.c.id, retries.c.body, retries.c.attempts, retries.c.first_failed_at)
                .where(retries.c.due_at <= utcnow())
                .order_by(retries.c.due_at)
                .limit(limit)
            ).all()
            conn.rollback()
        for row in rows:
            self.process(
                row.body,
                attempts=row.attempts,
                first_failed_at=row.first_failed_at,
                retry_id=row.id,
            )
        return len(rows)


@functools.cache
def _inbox_insert(inbox: Table, insert: Any) -> Any:
    """Built once per inbox table: every batch runs it."""
    return insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id)


def _peek(body: bytes, key: str) -> str | None:
    """A top-level field of a message that failed to parse as an event, if it has one."""
    try:
        value = json.loads(body).get(key)
    except Exception:  # not JSON, not an object, nested too deep: it has none
        return None
    return str(value)[:200] if value is not None else None


def message_bytes(body: bytes | str) -> bytes:
    """A message body as the bytes it arrived as (a transport may hand over text)."""
    return body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")


def printable(text: str | None, limit: int) -> str:
    """``text`` cut to ``limit`` and safe for any text column: NUL and unpaired surrogates
    (which PostgreSQL and UTF-8 refuse) are written as backslash escapes."""
    if not text:
        return ""
    safe = text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")
    return safe.replace("\x00", "\\x00")[:limit]


class QueueConsumer(BrokerLink):
    """Feeds the service's queue to an :class:`EventProcessor`; acks after it returns."""

    def __init__(
        self,
        processor: EventProcessor,
        broker_url: str,
        topology: Topology,
        service: str,
        *,
        prefetch: int = 50,
        batch_size: int = 50,
        linger: float = 0.0,
    ) -> None:
        super().__init__(broker_url, f"consumer {service}")
        self.processor = processor
        self.topology = topology
        self.service = service
        self.prefetch = prefetch
        self.batch_size = min(batch_size, prefetch)
        self.linger = linger
        self.lag: int | None = None
        self.max_wait = 30.0  # the longest pause between attempts while the database is away
        self._received: list[Message] = []
        self._from_broker: list[Message] = []  # what the broker dead-lettered, to keep

    def _on_message(self, message: Message) -> None:
        self._received.append(message)

    def _on_parked_message(self, message: Message) -> None:
        self._from_broker.append(message)

    def _drain_batch(self, conn: Any) -> None:
        """Take what the broker has already sent us (up to ``batch_size``); if that is more
        than one message, the flow is busy, so also what it sends within ``linger`` seconds.

        A lone message is applied at once: below load, lingering would only add its wait to
        every message's latency. Once messages queue up (they arrive faster than they are
        applied one by one), lingering gathers them into fewer, larger transactions."""
        self._take_waiting(conn, deadline=None)
        busy = len(self._received) > 1
        if busy and self.linger > 0 and not self.uses_memory_transport:
            self._take_waiting(conn, deadline=time.monotonic() + self.linger)

    def _take_waiting(self, conn: Any, deadline: float | None) -> None:
        """Receive until ``batch_size`` messages are held, or until nothing more is waiting
        (``deadline`` None) or ``deadline`` has passed."""
        while len(self._received) < self.batch_size:
            before = len(self._received)
            wait = 0.001 if deadline is None else max(deadline - time.monotonic(), 0.001)
            with suppress(socket.timeout, TimeoutError):
                conn.drain_events(timeout=wait)
            if len(self._received) == before and (deadline is None or time.monotonic() >= deadline):
                return

    def _process_received(self, conn: Any, stop: threading.Event) -> None:
        """Keep what the broker dead-lettered, then process the received messages as one
        batch; ack each only once its outcome is recorded. Returns early, acking nothing
        more, only when stopping."""
        kept, self._from_broker = self._from_broker, []
        for message in kept:
            if not self._settle(conn, stop, functools.partial(self._keep_dead_lettered, message)):
                return
            message.ack()
        batch, self._received = self._received, []
        if not batch:
            return
        bodies = [message.body for message in batch]
        if not self._settle(conn, stop, functools.partial(self.processor.process_batch, bodies)):
            return
        if self.uses_memory_transport or self._from_broker:
            # The memory transport acks one tag at a time; and one frame for the batch must
            # not also ack a dead-lettered message received meanwhile and not yet kept.
            for message in batch:
                message.ack()
        else:  # one frame for the whole batch: every delivery up to the last one's tag
            batch[-1].ack(multiple=True)

    def _keep_dead_lettered(self, message: Message) -> None:
        death = (message.headers or {}).get("x-death") or [{}]
        first = death[0] if isinstance(death, list) and death else {}
        reason = str(first.get("reason", "unknown")) if isinstance(first, dict) else "unknown"
        self.processor.park_from_broker(message.body, reason)

    def _settle(self, conn: Any, stop: threading.Event, work: Callable[[], Any]) -> bool:
        """Run ``work`` until it succeeds; True once it has, False if stopping first.

        ``work`` fails only when the service's database cannot record an outcome (the
        message's content never makes it fail). Meanwhile the messages stay unacked and
        with us: handing them back to the broker would charge each a delivery attempt and
        turn an outage into a loop. The pauses between attempts grow to ``max_wait``, and
        the connection is kept alive (heartbeats) while waiting."""
        pause = 1.0
        while True:
            try:
                work()
            except Exception as exc:
                self.state = "waiting for the database"
                self.failures.failed(exc, f"messages held, trying again in {pause:.0f}s")
                if not self._idle(conn, pause, stop):
                    return False
                pause = min(pause * 2, self.max_wait)
                continue
            self.state = "consuming"
            self.failures.succeeded()
            return True

    def _idle(self, conn: Any, seconds: float, stop: threading.Event) -> bool:
        """Wait ``seconds`` while serving the connection; False if stopping meanwhile."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if stop.is_set():
                return False
            with suppress(socket.timeout, TimeoutError):
                conn.drain_events(timeout=min(left, 1.0))
            if not self.uses_memory_transport:
                conn.heartbeat_check()
        return not stop.is_set()

    def session(self, stop: threading.Event) -> None:
        memory = self.uses_memory_transport
        # Unacked messages of a lost connection: the broker resends them.
        self._received, self._from_broker = [], []
        with broker_connection(self.broker_url, heartbeat=30) as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.channel()
            self.topology.declare(channel)
            channel.basic_qos(0, self.prefetch, False)
            queue = self.topology.queue(self.service)(channel)
            parked = self.topology.parked_queue(self.service)(channel)
            with (
                # Declared (or checked, when passive) just above: declaring again here would
                # need permissions a least-privilege user does not have.
                Consumer(
                    channel,
                    queues=[queue],
                    on_message=self._on_message,
                    no_ack=False,
                    auto_declare=False,
                ),
                Consumer(
                    channel,
                    queues=[parked],
                    on_message=self._on_parked_message,
                    no_ack=False,
                    auto_declare=False,
                ),
            ):
                self.connected = True
                self.state = "consuming"
                log.info("consumer %s listening on %s", self.service, queue.name)
                next_lag_check = 0.0
                while not stop.is_set():
                    # Messages may already be held: delivered while the consumer was being
                    # set up, or while it waited for the database. Waiting for the next one
                    # first would hold them back for up to a second.
                    if not self._received:
                        with suppress(socket.timeout, TimeoutError):
                            conn.drain_events(timeout=1.0)
                    self._drain_batch(conn)
                    self._process_received(conn, stop)
                    if not memory:
                        conn.heartbeat_check()
                    if time.monotonic() >= next_lag_check:
                        self.lag = self._queue_depth(queue)
                        next_lag_check = time.monotonic() + 5.0

    @staticmethod
    def _queue_depth(queue: Any) -> int | None:
        with suppress(Exception):
            result = queue.queue_declare(passive=True)
            return int(result.message_count)
        return None
