"""The consumer applies what the broker has already delivered in one transaction, and
behaves exactly as one message at a time would: duplicates are skipped, an event that
fails is retried or parked on its own while the rest of the batch is applied, and the
events handlers emit are numbered per subject in order.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from kombu import Connection

from shared.db import UnitOfWork
from shared.messaging import BadEvent, Event, NotYetKnown
from shared.messaging.consumer import EventProcessor, Outcome, QueueConsumer
from tests.support.events import (
    CREATED,
    TRANSPORTS,
    UPDATED,
    apply_customer_snapshot,
    body_of,
    count,
    customer_data,
    dead_letter_rows,
    envelope,
    publish_raw,
    replica,
    retry_rows,
)
from tests.support.harness import wait_until


def created(name: str) -> dict[str, Any]:
    customer_id = str(uuid.uuid4())
    return envelope(CREATED, customer_id, 1, customer_data(customer_id, name=name))


@TRANSPORTS
def test_a_batch_is_applied_in_order_and_each_event_recorded_once(service_factory, embedded):
    billing = service_factory("billing", embedded=embedded)
    processor = EventProcessor(
        billing.db, {CREATED: apply_customer_snapshot, UPDATED: apply_customer_snapshot}
    )
    first = created("First Ltd")
    renamed = envelope(
        UPDATED, first["subject"], 2, customer_data(first["subject"], name="First Renamed")
    )
    second = created("Second Ltd")

    outcomes = processor.process_batch([body_of(first), body_of(renamed), body_of(second)])

    assert outcomes == [Outcome.APPLIED] * 3
    assert replica(billing, first["subject"]).name == "First Renamed"
    assert replica(billing, second["subject"]).name == "Second Ltd"
    assert count(billing, billing.db.tables.inbox) == 3
    assert processor.counts[Outcome.APPLIED] == 3


@TRANSPORTS
def test_duplicates_in_a_batch_and_from_earlier_batches_are_skipped(service_factory, embedded):
    billing = service_factory("billing", embedded=embedded)
    calls: list[str] = []

    def counting(uow: UnitOfWork, event: Event) -> None:
        calls.append(event.id)
        apply_customer_snapshot(uow, event)

    processor = EventProcessor(billing.db, {CREATED: counting})
    seen, fresh = created("Seen Ltd"), created("Fresh Ltd")
    assert processor.process(body_of(seen)) is Outcome.APPLIED

    outcomes = processor.process_batch([body_of(seen), body_of(fresh), body_of(fresh)])

    assert outcomes == [Outcome.DUPLICATE, Outcome.APPLIED, Outcome.DUPLICATE]
    assert calls == [seen["id"], fresh["id"]]
    assert count(billing, billing.db.tables.inbox) == 2


@TRANSPORTS
def test_one_failing_event_is_retried_alone_and_the_rest_of_the_batch_applied(
    service_factory, embedded
):
    billing = service_factory("billing", embedded=embedded)
    early = created("Early Ltd")

    def picky(uow: UnitOfWork, event: Event) -> None:
        if event.id == early["id"]:
            raise NotYetKnown("its contract is not here yet")
        apply_customer_snapshot(uow, event)

    processor = EventProcessor(billing.db, {CREATED: picky})
    before, after = created("Before Ltd"), created("After Ltd")

    outcomes = processor.process_batch([body_of(before), body_of(early), body_of(after)])

    assert outcomes == [Outcome.APPLIED, Outcome.RETRY, Outcome.APPLIED]
    assert replica(billing, before["subject"]).name == "Before Ltd"
    assert replica(billing, after["subject"]).name == "After Ltd"
    assert replica(billing, early["subject"]) is None
    (retry,) = retry_rows(billing)
    assert retry.event_id == early["id"]
    # Nothing of the failed attempt stayed behind: only the applied events are in the inbox.
    assert count(billing, billing.db.tables.inbox) == 2


@TRANSPORTS
def test_unreadable_and_rejected_messages_are_parked_alone(service_factory, embedded):
    billing = service_factory("billing", embedded=embedded)
    refused = created("Refused Ltd")

    def strict(uow: UnitOfWork, event: Event) -> None:
        if event.id == refused["id"]:
            raise BadEvent("no such thing")
        apply_customer_snapshot(uow, event)

    processor = EventProcessor(billing.db, {CREATED: strict})
    good = created("Good Ltd")

    outcomes = processor.process_batch(["{not json", body_of(refused), body_of(good)])

    assert outcomes == [Outcome.PARKED, Outcome.PARKED, Outcome.APPLIED]
    assert replica(billing, good["subject"]).name == "Good Ltd"
    assert {row.event_id for row in dead_letter_rows(billing)} == {None, refused["id"]}
    assert processor.counts[Outcome.PARKED] == 2 and processor.counts[Outcome.APPLIED] == 1


@TRANSPORTS
def test_events_emitted_by_a_batch_are_numbered_per_subject_in_order(service_factory, embedded):
    customers = service_factory("customers", embedded=embedded)
    subject = str(uuid.uuid4())

    def announce(uow: UnitOfWork, event: Event) -> None:
        uow.emit(UPDATED, subject, customer_data(subject, name=event.data["name"]))

    processor = EventProcessor(customers.db, {CREATED: announce})
    names = [f"Name {n}" for n in range(5)]

    processor.process_batch([body_of(created(name)) for name in names])

    rows = customers.outbox()
    assert [row.sequence for row in rows] == [1, 2, 3, 4, 5]
    assert [row.subject for row in rows] == [subject] * 5
    assert [json.loads(row.payload)["data"]["name"] for row in rows] == names


class _BatchSizes(EventProcessor):
    """Records how many messages each call was given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sizes: list[int] = []

    def process_batch(self, bodies):  # type: ignore[no-untyped-def]
        self.sizes.append(len(bodies))
        return super().process_batch(bodies)


def _consume_three(billing, linger: float, waiting: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Publish ``waiting`` events before a consumer that lingers ``linger`` seconds starts,
    then the rest of three 150 ms apart; the sizes of the batches it applied them in."""
    processor = _BatchSizes(billing.db, {CREATED: apply_customer_snapshot})
    consumer = QueueConsumer(
        processor, billing.settings.broker_url, billing.topology, "billing", linger=linger
    )
    events = [created(f"Customer {n}") for n in range(3)]
    for event in events[:waiting]:
        publish_raw(billing, body_of(event), CREATED)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(lambda: consumer.connected, timeout=10)
        for event in events[waiting:]:
            time.sleep(0.15)
            publish_raw(billing, body_of(event), CREATED)
        wait_until(lambda: count(billing, billing.db.tables.inbox) == 3, timeout=10)
    finally:
        stop.set()
        thread.join(10)
    assert all(replica(billing, e["subject"]) is not None for e in events)
    # Acked, all of them: nothing went back to the queue when the consumer left.
    with Connection(billing.settings.broker_url) as conn:
        queue = billing.topology.queue("billing")(conn.default_channel)
        assert queue.queue_declare(passive=True).message_count == 0
    return processor.sizes


def test_a_consumer_with_messages_waiting_lingers_to_apply_what_comes_close_after_in_one_batch(
    service_factory,
):
    billing = service_factory("billing")

    assert _consume_three(billing, linger=1.0, waiting=2) == [3]


def test_a_lone_message_is_applied_at_once_even_by_a_consumer_that_lingers(service_factory):
    """Below load, lingering would only add to every message's latency."""
    billing = service_factory("billing")

    assert _consume_three(billing, linger=1.0, waiting=0) == [1, 1, 1]


def test_a_consumer_that_does_not_linger_applies_each_message_as_it_comes(service_factory):
    billing = service_factory("billing")

    # what was waiting together, then the one that came after
    assert _consume_three(billing, linger=0.0, waiting=2) == [2, 1]
