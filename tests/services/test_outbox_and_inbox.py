"""Messaging rules, proven on amqp:// + PostgreSQL and on memory:// + SQLite: the outbox
commits with the state change, the relay publishes in order, consumers apply each event
once, and poison is parked without blocking the queue.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest

from services.billing.models import customer_replica
from services.customers.events import customer_snapshot
from services.customers.models import Customer
from services.reporting.models import LoggedEvent
from shared.db import UnitOfWork
from shared.messaging import Event
from shared.messaging.consumer import EventProcessor, Outcome
from shared.messaging.outbox import InvalidEventData
from tests.support.events import (
    CREATED,
    TRANSPORTS,
    UPDATED,
    MemoryListener,
    apply_customer_snapshot,
    body_of,
    count,
    customer_data,
    dead_letter_rows,
    envelope,
    listed_dead_letters,
    new_customer,
    publish_raw,
    replica,
    retry_rows,
)
from tests.support.harness import wait_until

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
        uow.emit(CREATED, str(customer.id), customer_snapshot(customer))
        raise RuntimeError("crash before commit")

    assert count(customers, Customer.__table__) == 0
    assert customers.outbox() == []
    assert count(customers, tables.counters) == 0  # neither the number nor the sequence moved


@TRANSPORTS
def test_state_change_and_its_event_are_committed_together(service_factory, embedded):
    customers = service_factory("customers", embedded=embedded)

    with customers.db.unit_of_work() as uow:
        customer = new_customer(uow, "Kept Ltd")
        sent = uow.emit(CREATED, str(customer.id), customer_snapshot(customer))
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
        messages = list(listener.collect(5))
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
    assert replica(billing, customer_id).name == "Valid Ltd"
    for sut in (reporting, billing):
        wait_until(lambda s=sut: len(dead_letter_rows(s)) == 2, timeout=2, what="both parked")
        # an outcome is counted just after its commit
        wait_until(
            lambda s=sut: sum(s.worker.processor.counts.values()) >= 3,
            timeout=2,
            what="all three outcomes counted",
        )
    settled = {
        sut.settings.service: dict(sut.worker.processor.counts) for sut in (reporting, billing)
    }
    time.sleep(1.5)  # long enough for a requeue loop to show up
    for sut in (reporting, billing):
        counts = sut.worker.processor.counts
        assert counts == settled[sut.settings.service]  # nothing came back
        assert counts[Outcome.PARKED] == 2
        assert counts[Outcome.APPLIED] == 1
        assert counts[Outcome.RETRY] == 0
        assert len(dead_letter_rows(sut)) == 2
        assert retry_rows(sut) == []
        letters = sorted(listed_dead_letters(sut), key=lambda letter: letter["id"])
        assert len(letters) == 2, letters
        unparseable, schema_invalid = letters
        assert unparseable["body_preview"] == "not json{"
        assert unparseable["body_size"] == len("not json{")
        assert "unparseable" in unparseable["error"]
        assert unparseable["event_id"] is None
        assert schema_invalid["event_id"] == invalid["id"]
        assert schema_invalid["event_type"] == CREATED
        assert "invalid data" in schema_invalid["error"]
        assert "name" in schema_invalid["error"]
        assert json.loads(schema_invalid["body_preview"]) == json.loads(body_of(invalid))
        assert all(letter["attempts"] == 1 for letter in letters)
        assert all(letter["replayed_at"] is None for letter in letters)
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
    # the worker counts an outcome just after its commit, so wait for both to be counted
    processor = reporting.worker.processor
    wait_until(
        lambda: processor.counts[Outcome.APPLIED] + processor.counts[Outcome.PARKED] >= 2,
        timeout=3,
        what="both outcomes counted",
    )
    settled_counts = dict(processor.counts)
    time.sleep(1.5)
    assert reporting.worker.processor.counts == settled_counts  # nothing redelivered
