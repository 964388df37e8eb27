"""Messaging rules (DESIGN "Messaging rules"), proven on amqp:// + PostgreSQL and on
memory:// + SQLite: the outbox commits with the state change, the relay publishes in order,
consumers apply each event once, poison is parked, early events are retried, dead letters
are replayed through the admin API, and replicas never move backwards.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pika
import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy import func, select, update

from services.billing.handlers import HANDLERS as BILLING_HANDLERS
from services.billing.models import customer_replica
from services.customers.domain import customer_number
from services.customers.models import Customer
from services.reporting.models import LoggedEvent
from shared.clock import isoformat, utcnow
from shared.db import UnitOfWork
from shared.messaging import BadEvent, Event, NotYetKnown
from shared.messaging.consumer import EventProcessor, Outcome
from shared.messaging.envelope import to_json
from shared.messaging.outbox import InvalidEventData
from shared.messaging.worker import Worker
from tests.support.harness import ServiceUnderTest, wait_until
from tests.support.subscriber import pika_url

TRANSPORTS = pytest.mark.parametrize(
    "embedded", [False, True], ids=["rabbitmq+postgres", "memory+sqlite"]
)
CREATED = "customers.customer.created"
UPDATED = "customers.customer.updated"


# -- building events ------------------------------------------------------------------------


def customer_data(customer_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """Data of a customers.customer.created/updated snapshot (Python values, as emitted)."""
    now = utcnow()
    data = {
        "id": customer_id or str(uuid.uuid4()),
        "number": "C-000001",
        "name": "Acme Ltd",
        "email": "ap@acme.test",
        "phone": None,
        "billing_address": None,
        "payment_terms": "net_30",
        "currency": "EUR",
        "tax_id": None,
        "credit_limit": None,
        "reminders_enabled": True,
        "notes": None,
        "status": "active",
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    return {**data, **changes}


def envelope(
    event_type: str, subject: str, sequence: int, data: dict[str, Any], **changes: Any
) -> dict[str, Any]:
    """A hand-built envelope as another service's relay would publish it."""
    event_id = str(uuid.uuid4())
    return {
        "id": event_id,
        "type": event_type,
        "version": 1,
        "occurred_at": isoformat(utcnow()),
        "source": "customers",
        "subject": subject,
        "sequence": sequence,
        "correlation_id": event_id,
        "causation_id": None,
        "data": data,
        **changes,
    }


def body_of(value: dict[str, Any]) -> str:
    """The message body a relay would send for ``value``."""
    return to_json(value)


def new_customer(uow: UnitOfWork, name: str) -> Customer:
    """A customers row added to ``uow`` (not committed), as the API would add it."""
    seq = uow.next_number("customer_number")
    now = utcnow()
    customer = Customer(
        id=uuid.uuid4(),
        seq=seq,
        number=customer_number(seq),
        name=name,
        search_text=name.lower(),
        payment_terms="net_30",
        currency="EUR",
        reminders_enabled=True,
        status="active",
        created_at=now,
        updated_at=now,
    )
    uow.session.add(customer)
    uow.session.flush()
    return customer


# -- the broker, from outside -----------------------------------------------------------------


def publish_raw(sut: ServiceUnderTest, body: str | bytes, routing_key: str) -> None:
    """Publish one message to the test's exchange as an outside system would: plain AMQP
    (pika) on RabbitMQ, a kombu producer on the in-process memory broker."""
    raw = body.encode() if isinstance(body, str) else body
    broker, exchange = sut.settings.broker_url, sut.settings.exchange
    if broker.startswith("memory://"):
        with Connection("memory://") as conn:
            producer = conn.Producer(exchange=Exchange(exchange, type="topic", durable=True))
            producer.publish(
                raw,
                routing_key=routing_key,
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                retry=False,
            )
        return
    connection = pika.BlockingConnection(pika.URLParameters(pika_url(broker)))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            exchange,
            routing_key,
            raw,
            properties=pika.BasicProperties(
                content_type="application/json", delivery_mode=2, type=routing_key
            ),
            mandatory=True,
        )
    finally:
        connection.close()


class MemoryListener:
    """An outside listener on the memory broker: a queue bound to the exchange with '#'."""

    def __init__(self, exchange: str, name: str) -> None:
        self.connection = Connection("memory://")
        queue = Queue(name, Exchange(exchange, type="topic", durable=True), routing_key="#")
        self.queue = queue(self.connection.default_channel)
        self.queue.declare()
        self.received: list[tuple[str, dict[str, Any]]] = []

    def collect(self, count: int, timeout: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} messages, got {len(self.received)}")
            message = self.queue.get(no_ack=True)
            if message is None:
                time.sleep(0.05)
                continue
            routing_key = message.delivery_info["routing_key"]
            self.received.append((routing_key, json.loads(message.body)))
        return self.received

    def close(self) -> None:
        self.queue.delete()
        self.connection.release()


# -- reading a service's database -------------------------------------------------------------


def count(sut: ServiceUnderTest, table: Any, *where: Any) -> int:
    with sut.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


def replica(sut: ServiceUnderTest, customer_id: str) -> Any:
    with sut.db.engine.connect() as conn:
        return conn.execute(
            select(customer_replica).where(customer_replica.c.id == customer_id)
        ).first()


def retry_rows(sut: ServiceUnderTest) -> list[Any]:
    return sut.rows(sut.db.tables.retries)


def dead_letter_rows(sut: ServiceUnderTest) -> list[Any]:
    return sut.rows(sut.db.tables.dead_letters)


def listed_dead_letters(sut: ServiceUnderTest, **query: str) -> list[dict[str, Any]]:
    answer = sut.client(role="admin").get("/admin/dead-letters", query_string=query)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


class FailsFirst:
    """A handler that raises ``error()`` on its first ``times`` calls, then does ``then``."""

    def __init__(
        self,
        times: int,
        error: Callable[[], Exception],
        then: Callable[[UnitOfWork, Event], None],
    ) -> None:
        self.times = times
        self.error = error
        self.then = then
        self.calls = 0

    def __call__(self, uow: UnitOfWork, event: Event) -> None:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error()
        self.then(uow, event)


apply_customer_snapshot = BILLING_HANDLERS[CREATED]


# -- 1. outbox atomicity ----------------------------------------------------------------------


@TRANSPORTS
def test_state_change_and_its_event_are_rolled_back_together(service_factory, embedded):
    customers = service_factory("customers", embedded=embedded)
    tables = customers.db.tables

    with (
        pytest.raises(RuntimeError, match="crash before commit"),
        customers.db.unit_of_work() as uow,
    ):
        customer = new_customer(uow, "Lost Ltd")
        uow.emit(CREATED, str(customer.id), customer.snapshot())
        raise RuntimeError("crash before commit")

    assert count(customers, Customer.__table__) == 0
    assert customers.outbox() == []
    assert count(customers, tables.counters) == 0  # neither the number nor the sequence moved


@TRANSPORTS
def test_state_change_and_its_event_are_committed_together(service_factory, embedded):
    customers = service_factory("customers", embedded=embedded)

    with customers.db.unit_of_work() as uow:
        customer = new_customer(uow, "Kept Ltd")
        sent = uow.emit(CREATED, str(customer.id), customer.snapshot())
        uow.commit()

    (row,) = customers.outbox()
    assert count(customers, Customer.__table__) == 1
    assert row.event_id == sent["id"]
    assert row.subject == str(customer.id)
    assert row.sequence == 1
    assert row.published_at is None  # no worker: it waits in the outbox
    assert json.loads(row.payload) == sent
    assert sent["data"]["name"] == "Kept Ltd"


@TRANSPORTS
def test_event_data_its_schema_rejects_raises_and_writes_nothing(service_factory, embedded):
    customers = service_factory("customers", embedded=embedded)
    subject = str(uuid.uuid4())
    tables = customers.db.tables

    with customers.db.unit_of_work() as uow:
        with pytest.raises(InvalidEventData, match="name"):
            uow.emit(CREATED, subject, {"id": subject, "number": "C-000001"})
        # Even if the caller commits anyway, the rejected event left nothing behind.
        uow.commit()

    assert customers.outbox() == []
    assert count(customers, tables.counters) == 0

    with customers.db.unit_of_work() as uow:
        sent = uow.emit(CREATED, subject, customer_data(subject))
        uow.commit()
    assert sent["sequence"] == 1  # the rejected event did not use up a sequence number


# -- 2. relay -----------------------------------------------------------------------------------


@TRANSPORTS
def test_relay_publishes_in_outbox_order_with_per_subject_sequence_and_marks_rows(
    request, service_factory, names, embedded
):
    exchange, prefix = names
    if embedded:
        listener: Any = MemoryListener(exchange, f"{prefix}outside-listener")
        request.addfinalizer(listener.close)
    else:
        listener = request.getfixturevalue("subscriber")
    customers = service_factory("customers", embedded=embedded, with_worker=True)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())

    with customers.db.unit_of_work() as uow:
        uow.emit(CREATED, first, customer_data(first, name="First"))
        uow.emit(CREATED, second, customer_data(second, name="Second"))
        uow.commit()
    with customers.db.unit_of_work() as uow:
        uow.emit(UPDATED, first, customer_data(first, name="First v2"))
        uow.emit(UPDATED, second, customer_data(second, name="Second v2"))
        uow.emit(UPDATED, first, customer_data(first, name="First v3"))
        uow.commit()

    if embedded:
        messages = [(key, body) for key, body in listener.collect(5)]
    else:
        received = listener.collect(5)
        assert [m.properties.message_id for m in received] == [m.body["id"] for m in received]
        messages = [(m.routing_key, m.body) for m in received]

    wait_until(lambda: customers.unpublished() == 0, timeout=5, what="outbox marked published")
    rows = customers.outbox()
    assert [body["id"] for _, body in messages] == [row.event_id for row in rows]
    assert [key for key, _ in messages] == [CREATED, CREATED, UPDATED, UPDATED, UPDATED]
    assert [(b["subject"], b["sequence"], b["data"]["name"]) for _, b in messages] == [
        (first, 1, "First"),
        (second, 1, "Second"),
        (first, 2, "First v2"),
        (second, 2, "Second v2"),
        (first, 3, "First v3"),
    ]
    assert all(row.published_at >= row.created_at for row in rows)


# -- 3. exactly once ------------------------------------------------------------------------------


@TRANSPORTS
def test_each_event_is_applied_once_even_when_delivered_twice(service_factory, embedded):
    reporting = service_factory("reporting", embedded=embedded, with_worker=True)
    billing = service_factory("billing", embedded=embedded, with_worker=True)
    customers = service_factory("customers", embedded=embedded, with_worker=True)
    clerk = customers.client(role="clerk")
    created = [
        clerk.post("/customers", json={"name": name}).get_json() for name in ("Acme", "Beta")
    ]
    ids = [c["id"] for c in created]

    wait_until(
        lambda: count(reporting, LoggedEvent.__table__) == 2, what="reporting logged both events"
    )
    wait_until(lambda: count(billing, customer_replica) == 2, what="billing replicated both")
    wait_until(lambda: customers.unpublished() == 0, what="outbox marked published")
    outbox = customers.outbox()
    replica_before = replica(billing, ids[0])
    assert replica_before.name == "Acme" and replica_before.sequence == 1

    duplicated = outbox[0]
    for _ in range(2):
        publish_raw(customers, duplicated.payload, duplicated.event_type)
    for sut in (reporting, billing):
        processor = sut.worker.processor
        wait_until(
            lambda p=processor: p.counts[Outcome.DUPLICATE] == 2,
            what=f"{sut.settings.service} saw both duplicates",
        )

    logged = reporting.rows(LoggedEvent.__table__)
    assert sorted(row.event_id for row in logged) == sorted(row.event_id for row in outbox)
    assert sorted(row.subject for row in logged) == sorted(ids)
    for sut in (reporting, billing):
        inbox = sut.db.tables.inbox
        assert count(sut, inbox, inbox.c.event_id == duplicated.event_id) == 1
        assert count(sut, inbox) == 2
        assert sut.worker.processor.counts[Outcome.APPLIED] == 2
    assert count(billing, customer_replica) == 2
    assert replica(billing, ids[0]) == replica_before  # not even updated_at moved


@TRANSPORTS
def test_concurrent_deliveries_of_one_event_apply_it_once_and_the_loser_is_a_duplicate(
    service_factory, embedded
):
    billing = service_factory("billing", embedded=embedded)
    handler_started = threading.Event()

    def slow_snapshot(uow: UnitOfWork, event: Event) -> None:
        handler_started.set()
        time.sleep(0.3)  # holds the first delivery's transaction open
        apply_customer_snapshot(uow, event)

    # Two consumers of a scaled-out service, each with its own processor.
    first, second = (EventProcessor(billing.db, {CREATED: slow_snapshot}) for _ in range(2))
    data = customer_data(name="Raced Ltd")
    body = body_of(envelope(CREATED, data["id"], 1, data))
    outcomes: dict[str, Outcome] = {}
    first_delivery = threading.Thread(target=lambda: outcomes.update(a=first.process(body)))
    second_delivery = threading.Thread(target=lambda: outcomes.update(b=second.process(body)))

    first_delivery.start()
    assert handler_started.wait(5)
    second_delivery.start()
    first_delivery.join(10)
    second_delivery.join(10)

    assert count(billing, customer_replica) == 1
    assert count(billing, billing.db.tables.inbox) == 1
    assert outcomes == {"a": Outcome.APPLIED, "b": Outcome.DUPLICATE}
    assert retry_rows(billing) == []  # a duplicate is no transient failure to retry


# -- 4. poison -------------------------------------------------------------------------------------


@TRANSPORTS
def test_poison_is_parked_with_its_error_and_never_blocks_or_loops(service_factory, embedded):
    reporting = service_factory("reporting", embedded=embedded, with_worker=True)
    billing = service_factory("billing", embedded=embedded, with_worker=True)
    customer_id = str(uuid.uuid4())
    nameless = customer_data(customer_id)
    del nameless["name"]
    invalid = envelope(CREATED, customer_id, 1, nameless)
    valid = envelope(CREATED, customer_id, 1, customer_data(customer_id, name="Valid Ltd"))

    publish_raw(billing, "not json{", CREATED)
    publish_raw(billing, body_of(invalid), CREATED)
    publish_raw(billing, body_of(valid), CREATED)

    wait_until(lambda: replica(billing, customer_id), what="the valid event applied in billing")
    wait_until(
        lambda: count(reporting, LoggedEvent.__table__) == 1,
        what="the valid event logged in reporting",
    )
    time.sleep(1.5)  # long enough for a requeue loop to show up in the counts
    for sut in (reporting, billing):
        assert replica(billing, customer_id).name == "Valid Ltd"
        letters = sorted(listed_dead_letters(sut), key=lambda letter: letter["id"])
        assert len(letters) == 2, letters
        unparseable, schema_invalid = letters
        assert unparseable["body"] == "not json{"
        assert "unparseable" in unparseable["error"]
        assert unparseable["event_id"] is None
        assert schema_invalid["event_id"] == invalid["id"]
        assert schema_invalid["event_type"] == CREATED
        assert "invalid data" in schema_invalid["error"]
        assert "name" in schema_invalid["error"]
        assert json.loads(schema_invalid["body"]) == json.loads(body_of(invalid))
        assert all(letter["attempts"] == 1 for letter in letters)
        assert all(letter["replayed_at"] is None for letter in letters)
        assert len(dead_letter_rows(sut)) == 2
        assert retry_rows(sut) == []
        counts = sut.worker.processor.counts
        assert counts[Outcome.PARKED] == 2
        assert counts[Outcome.APPLIED] == 1
        assert counts[Outcome.RETRY] == 0
        assert sut.db.tables.inbox is not None
        inbox = sut.db.tables.inbox
        assert [row.event_id for row in sut.rows(inbox)] == [valid["id"]]


@TRANSPORTS
def test_well_formed_event_with_an_overlong_type_is_settled_once_not_requeued_in_a_loop(
    service_factory, embedded
):
    # The envelope schema bounds no type length; reporting's wildcard '#' receives anything.
    reporting = service_factory("reporting", embedded=embedded, with_worker=True)
    overlong = envelope("partner_" + "x" * 120 + ".invoice.sent", "subject-1", 1, {"n": 1})
    marker = envelope("partner.invoice.sent", "subject-2", 1, {"n": 2})
    logged = LoggedEvent.__table__.c.event_id
    parked = reporting.db.tables.dead_letters.c.event_id

    publish_raw(reporting, body_of(overlong), overlong["type"])
    publish_raw(reporting, body_of(marker), marker["type"])
    wait_until(
        lambda: count(reporting, LoggedEvent.__table__, logged == marker["id"]) == 1,
        what="the event behind it to be logged",
    )

    def settled() -> bool:
        applied = count(reporting, LoggedEvent.__table__, logged == overlong["id"])
        dead = count(reporting, reporting.db.tables.dead_letters, parked == overlong["id"])
        return applied + dead == 1

    wait_until(settled, timeout=3, what="the overlong-type event to be applied or parked")
    settled_counts = dict(reporting.worker.processor.counts)
    time.sleep(1.5)
    assert reporting.worker.processor.counts == settled_counts  # nothing redelivered


# -- 5. retries --------------------------------------------------------------------------------


@TRANSPORTS
def test_event_about_something_not_yet_known_is_retried_with_growing_delay_then_applied(
    service_factory, embedded
):
    billing = service_factory("billing", embedded=embedded)
    customer_id = str(uuid.uuid4())
    event = envelope(CREATED, customer_id, 1, customer_data(customer_id, name="Late Ltd"))
    handler = FailsFirst(
        2, lambda: NotYetKnown("its contract is not here yet"), apply_customer_snapshot
    )
    processor = EventProcessor(billing.db, {CREATED: handler}, base_delay=0.2)

    assert processor.process(body_of(event)) is Outcome.RETRY
    (first,) = retry_rows(billing)
    assert first.event_id == event["id"] and first.event_type == CREATED
    assert first.attempts == 1
    assert "NotYetKnown" in first.last_error
    assert first.due_at > first.first_failed_at
    first_delay = first.due_at - first.first_failed_at
    assert replica(billing, customer_id) is None
    assert count(billing, billing.db.tables.inbox) == 0  # not recorded as seen
    assert processor.run_due_retries() == 0  # not due yet

    time.sleep(first_delay.total_seconds())
    second_attempt_at = utcnow()
    assert processor.run_due_retries() == 1
    (second,) = retry_rows(billing)
    assert second.id == first.id
    assert second.attempts == 2
    assert second.first_failed_at == first.first_failed_at
    assert second.due_at - second_attempt_at > first_delay  # the delay grows
    assert replica(billing, customer_id) is None

    wait_until(lambda: processor.run_due_retries() == 1, timeout=3, what="the retry fell due")

    assert handler.calls == 3
    assert processor.counts[Outcome.RETRY] == 2
    assert processor.counts[Outcome.APPLIED] == 1
    assert retry_rows(billing) == []
    assert dead_letter_rows(billing) == []
    assert replica(billing, customer_id).name == "Late Ltd"
    assert [row.event_id for row in billing.rows(billing.db.tables.inbox)] == [event["id"]]


@TRANSPORTS
def test_transient_handler_failure_is_retried_not_parked(service_factory, embedded):
    billing = service_factory("billing", embedded=embedded)
    customer_id = str(uuid.uuid4())
    event = envelope(CREATED, customer_id, 1, customer_data(customer_id))
    handler = FailsFirst(1, lambda: ConnectionError("mail server away"), apply_customer_snapshot)
    processor = EventProcessor(billing.db, {CREATED: handler}, base_delay=0.05)

    assert processor.process(body_of(event)) is Outcome.RETRY
    assert "ConnectionError" in retry_rows(billing)[0].last_error
    wait_until(lambda: processor.run_due_retries() == 1, timeout=3, what="the retry fell due")

    assert processor.counts[Outcome.APPLIED] == 1
    assert retry_rows(billing) == []
    assert dead_letter_rows(billing) == []
    assert replica(billing, customer_id) is not None


@TRANSPORTS
def test_retries_give_up_and_park_once_the_retry_window_of_about_15_minutes_passed(
    service_factory, embedded
):
    billing = service_factory("billing", embedded=embedded)
    customer_id = str(uuid.uuid4())
    event = envelope(CREATED, customer_id, 1, customer_data(customer_id))

    def never_known(uow: UnitOfWork, event: Event) -> None:
        raise NotYetKnown(f"customer {event.subject} is still unknown")

    processor = EventProcessor(billing.db, {CREATED: never_known}, base_delay=0.05)
    retries = billing.db.tables.retries

    def age_retry(minutes: int) -> None:
        now = utcnow()
        with billing.db.engine.begin() as conn:
            conn.execute(
                update(retries).values(
                    first_failed_at=now - dt.timedelta(minutes=minutes), due_at=now
                )
            )

    assert processor.process(body_of(event)) is Outcome.RETRY
    age_retry(14)
    assert processor.run_due_retries() == 1
    assert processor.counts[Outcome.RETRY] == 2  # 14 minutes in: still retrying
    assert dead_letter_rows(billing) == []

    age_retry(16)
    assert processor.run_due_retries() == 1

    assert processor.counts[Outcome.PARKED] == 1
    assert retry_rows(billing) == []
    (letter,) = dead_letter_rows(billing)
    assert letter.event_id == event["id"]
    assert letter.attempts == 3
    assert "gave up" in letter.error
    assert "still unknown" in letter.error
    assert utcnow() - letter.first_failed_at >= dt.timedelta(minutes=16)
    assert replica(billing, customer_id) is None


@TRANSPORTS
def test_bad_event_from_a_handler_is_parked_at_once(service_factory, embedded):
    billing = service_factory("billing", embedded=embedded)
    customer_id = str(uuid.uuid4())
    event = envelope(CREATED, customer_id, 1, customer_data(customer_id))
    calls: list[str] = []

    def reject(uow: UnitOfWork, event: Event) -> None:
        calls.append(event.id)
        raise BadEvent("currency XTS cannot be billed")

    processor = EventProcessor(billing.db, {CREATED: reject}, base_delay=0.05)

    assert processor.process(body_of(event)) is Outcome.PARKED

    assert calls == [event["id"]]
    assert retry_rows(billing) == []
    (letter,) = dead_letter_rows(billing)
    assert letter.event_id == event["id"]
    assert letter.attempts == 1
    assert letter.error.startswith("BadEvent: currency XTS cannot be billed")
    assert letter.replayed_at is None
    assert count(billing, billing.db.tables.inbox) == 0
    time.sleep(0.1)
    assert processor.run_due_retries() == 0  # nothing left to loop on


# -- 6. replay -----------------------------------------------------------------------------------


@TRANSPORTS
def test_replayed_dead_letter_is_processed_again_by_the_worker(service_factory, embedded):
    billing = service_factory("billing", embedded=embedded)
    handler = FailsFirst(
        1, lambda: BadEvent("payment terms net_31 unknown"), apply_customer_snapshot
    )
    billing.worker = Worker(billing.settings, billing.db, billing.topology, {CREATED: handler})
    billing.worker.start()  # the harness stops it after the test
    wait_until(lambda: billing.worker.consumer.connected, what="the consumer to listen")
    customer_id = str(uuid.uuid4())
    event = envelope(CREATED, customer_id, 1, customer_data(customer_id, name="Replayed Ltd"))

    publish_raw(billing, body_of(event), CREATED)
    (letter,) = wait_until(lambda: listed_dead_letters(billing), what="the event to be parked")
    assert letter["event_id"] == event["id"]
    assert "net_31" in letter["error"]
    assert replica(billing, customer_id) is None

    answer = billing.client(role="admin").post(f"/admin/dead-letters/{letter['id']}/replay")

    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["id"] == letter["id"]
    assert answer.get_json()["replayed_at"] is not None
    wait_until(lambda: replica(billing, customer_id), what="the worker to apply the replay")
    assert replica(billing, customer_id).name == "Replayed Ltd"
    assert handler.calls == 2
    assert listed_dead_letters(billing) == []
    (replayed,) = listed_dead_letters(billing, replayed="true")
    assert replayed["id"] == letter["id"]
    assert replayed["replayed_at"] is not None
    wait_until(lambda: retry_rows(billing) == [], timeout=2, what="the retry row to go")
    assert [row.event_id for row in billing.rows(billing.db.tables.inbox)] == [event["id"]]


@TRANSPORTS
def test_dead_letter_replay_is_admin_only_once_only_and_of_known_letters(service_factory, embedded):
    billing = service_factory("billing", embedded=embedded)
    processor = EventProcessor(billing.db, BILLING_HANDLERS)
    assert processor.process("not json{") is Outcome.PARKED
    (letter,) = dead_letter_rows(billing)
    path = f"/admin/dead-letters/{letter.id}/replay"

    for role in ("viewer", "clerk"):
        assert billing.client(role=role).get("/admin/dead-letters").status_code == 403
        assert billing.client(role=role).post(path).status_code == 403
    assert dead_letter_rows(billing)[0].replayed_at is None
    assert retry_rows(billing) == []

    admin = billing.client(role="admin")
    assert admin.post("/admin/dead-letters/987654/replay").status_code == 404
    assert admin.post(path).status_code == 202
    second = admin.post(path)

    assert second.status_code == 409
    assert second.content_type == "application/problem+json"
    assert len(retry_rows(billing)) == 1  # handed back to the worker exactly once
    assert dead_letter_rows(billing)[0].replayed_at is not None


# -- 7. replica ordering ----------------------------------------------------------------------


@TRANSPORTS
def test_replica_keeps_the_newest_sequence_when_updates_arrive_out_of_order(
    service_factory, embedded
):
    billing = service_factory("billing", embedded=embedded)
    processor = EventProcessor(billing.db, BILLING_HANDLERS)
    customer_id = str(uuid.uuid4())

    def snapshot(sequence: int, name: str, event_type: str = UPDATED) -> dict[str, Any]:
        data = customer_data(customer_id, name=name, version=sequence)
        return envelope(event_type, customer_id, sequence, data)

    third = snapshot(3, "Third Name")
    outcomes = [
        processor.process(body_of(snapshot(1, "First Name", CREATED))),
        processor.process(body_of(third)),
        processor.process(body_of(snapshot(2, "Second Name"))),
        processor.process(body_of(third)),
    ]

    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED, Outcome.APPLIED, Outcome.DUPLICATE]
    row = replica(billing, customer_id)
    assert row.sequence == 3
    assert row.name == "Third Name"
    assert row.snapshot["version"] == 3


@TRANSPORTS
def test_replica_ignores_a_creation_that_arrives_after_a_newer_update(service_factory, embedded):
    billing = service_factory("billing", embedded=embedded)
    processor = EventProcessor(billing.db, BILLING_HANDLERS)
    customer_id = str(uuid.uuid4())
    update_event = envelope(UPDATED, customer_id, 2, customer_data(customer_id, name="Renamed"))
    created_event = envelope(CREATED, customer_id, 1, customer_data(customer_id, name="Original"))

    assert processor.process(body_of(update_event)) is Outcome.APPLIED
    assert processor.process(body_of(created_event)) is Outcome.APPLIED

    row = replica(billing, customer_id)
    assert (row.sequence, row.name) == (2, "Renamed")
