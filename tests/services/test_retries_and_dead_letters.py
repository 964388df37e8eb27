"""Messaging rules, proven on amqp:// + PostgreSQL and on memory:// + SQLite: early events
are retried with growing delay, dead letters are replayed through the admin API, and
replicas never move backwards.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from sqlalchemy import update

from services.billing.handlers import HANDLERS as BILLING_HANDLERS
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.messaging import BadEvent, Event, NotYetKnown
from shared.messaging.consumer import EventProcessor, Outcome
from shared.messaging.worker import Worker
from tests.support.events import (
    CREATED,
    TRANSPORTS,
    UPDATED,
    FailsFirst,
    apply_customer_snapshot,
    body_of,
    count,
    customer_data,
    dead_letter_rows,
    envelope,
    listed_dead_letters,
    publish_raw,
    replica,
    retry_rows,
)
from tests.support.harness import wait_until

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
    # one second: long enough that the checks below finish before the first retry falls due,
    # even on a busy machine (0.2 s was not)
    processor = EventProcessor(billing.db, {CREATED: handler}, base_delay=1.0)

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

    wait_until(lambda: processor.run_due_retries() == 1, timeout=5, what="the retry fell due")

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
    billing.worker = Worker(
        billing.settings, billing.db, billing.topology, handlers={CREATED: handler}
    )
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
