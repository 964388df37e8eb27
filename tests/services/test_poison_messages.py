"""No message can stop a consumer: whatever bytes arrive are parked exactly, with a reason,
and the good messages around them are applied once, in order, without a requeue.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import pika
import pytest
from sqlalchemy import make_url

from services.billing.models import customer_replica
from shared.messaging.consumer import EventProcessor, Outcome
from tests.support.events import (
    CREATED,
    TRANSPORTS,
    apply_customer_snapshot,
    body_of,
    customer_data,
    dead_letter_rows,
    envelope,
    publish_raw,
)
from tests.support.harness import ServiceUnderTest, wait_until
from tests.support.subscriber import pika_url
from tests.support.tcpproxy import TcpProxy


def good_event(name: str) -> dict[str, Any]:
    customer_id = str(uuid.uuid4())
    return envelope(CREATED, customer_id, 1, customer_data(customer_id, name=name))


def _changed(changes: dict[str, Any]) -> bytes:
    event = good_event("Changed")
    event["data"] = {**event["data"], **changes}
    return json.dumps(event, default=str).encode()


def poisons() -> dict[str, bytes]:
    """Every kind of message an outside system with publish rights could send by mistake."""
    no_id = good_event("No Id")
    del no_id["id"]
    unknown_type = good_event("Unknown")
    unknown_type["type"] = "customers.customer.exploded"
    return {
        "nul bytes": b"\x00not json",
        "invalid utf-8": b'{"id": "\xff\xfe", "type": "\xc3("}',
        "not json": b"hello, this is not json",
        "json of the wrong shape": b"[1, 2, 3]",
        "json null": b"null",
        "no id": json.dumps(no_id, default=str).encode(),
        "unknown type": json.dumps(unknown_type, default=str).encode(),
        "10 MB": b'{"id": "' + b"x" * (10 * 1024 * 1024) + b'"}',
        "nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
        "5000-digit number": b'{"id": "a", "sequence": ' + b"9" * 5000 + b"}",
        "nul in a text field": _changed({"name": "Nul\u0000Ltd"}),
        "lone surrogate in a text field": _changed({"name": "x\ud800"}),
        "id with a nul": json.dumps({**good_event("Id"), "id": "a\u0000b"}, default=str).encode(),
    }


POISONS = poisons()


def billing_processor(sut: ServiceUnderTest) -> EventProcessor:
    return EventProcessor(sut.db, {CREATED: apply_customer_snapshot})


def replica_names(sut: ServiceUnderTest) -> list[str]:
    with sut.db.engine.connect() as conn:
        return sorted(row.name for row in conn.execute(customer_replica.select()))


@pytest.mark.parametrize("kind", sorted(POISONS))
def test_any_message_is_parked_with_its_exact_bytes_and_the_batch_still_applies(
    service_factory, kind
):
    billing = service_factory("billing")
    processor = billing_processor(billing)
    before, after = good_event("Before Ltd"), good_event("After Ltd")
    poison = POISONS[kind]

    outcomes = processor.process_batch([body_of(before), poison, body_of(after)])

    assert outcomes == [Outcome.APPLIED, Outcome.PARKED, Outcome.APPLIED]
    assert replica_names(billing) == ["After Ltd", "Before Ltd"]
    (letter,) = dead_letter_rows(billing)
    assert bytes(letter.body) == poison
    assert letter.error


def test_parking_works_on_sqlite_and_memory_too(service_factory):
    billing = service_factory("billing", embedded=True)
    processor = billing_processor(billing)
    kinds = ["nul bytes", "invalid utf-8", "nested 100000 deep", "5000-digit number", "no id"]

    outcomes = processor.process_batch([POISONS[kind] for kind in kinds])

    assert outcomes == [Outcome.PARKED] * len(kinds)
    assert [bytes(row.body) for row in dead_letter_rows(billing)] == [
        POISONS[kind] for kind in kinds
    ]


@TRANSPORTS
def test_a_poisoned_queue_keeps_moving_and_the_dead_letter_api_shows_the_bytes(
    service_factory, embedded
):
    billing = service_factory("billing", embedded=embedded, with_worker=True)
    admin = billing.client()
    first, second = good_event("First Ltd"), good_event("Second Ltd")
    poison = POISONS["nul bytes"]

    publish_raw(billing, body_of(first), CREATED)
    publish_raw(billing, poison, CREATED)
    publish_raw(billing, body_of(first), CREATED)  # a duplicate beside it
    publish_raw(billing, body_of(second), CREATED)

    wait_until(lambda: len(replica_names(billing)) == 2, what="both good events applied")
    (letter,) = wait_until(lambda: dead_letter_rows(billing), what="the poison parked")
    processor = billing.worker.processor
    time.sleep(1.0)
    settled = dict(processor.counts)
    assert settled[Outcome.APPLIED] == 2
    assert settled[Outcome.PARKED] == 1
    time.sleep(1.0)
    assert processor.counts == settled, "nothing was requeued or redelivered"

    (listed,) = admin.get("/admin/dead-letters").get_json()["items"]
    assert listed["body_size"] == len(poison)
    assert listed["body_preview"] == "\\x00not json"
    assert "unparseable" in listed["error"]
    body = admin.get(f"/admin/dead-letters/{letter.id}/body")
    assert body.status_code == 200
    assert body.mimetype == "application/octet-stream"
    assert body.data == poison


def test_replaying_a_poison_parks_it_again_and_a_good_one_applies_once(service_factory):
    billing = service_factory("billing", with_worker=True)
    admin = billing.client()
    processor = billing.worker.processor
    good = good_event("Replayed Ltd")
    # A good event parked earlier, e.g. by the broker's delivery limit while a worker crashed.
    processor.park_from_broker(body_of(good).encode(), "delivery_limit")
    publish_raw(billing, POISONS["not json"], CREATED)
    wait_until(lambda: len(dead_letter_rows(billing)) == 2, what="both parked")
    good_letter, poison_letter = sorted(dead_letter_rows(billing), key=lambda row: row.origin)

    assert admin.post(f"/admin/dead-letters/{good_letter.id}/replay").status_code == 202
    assert admin.post(f"/admin/dead-letters/{poison_letter.id}/replay").status_code == 202

    wait_until(lambda: replica_names(billing) == ["Replayed Ltd"], what="the replayed event")
    rows = wait_until(
        lambda: (rows := dead_letter_rows(billing)) and len(rows) == 3 and rows,
        what="the poison parked again",
    )
    again = [row for row in rows if row.id not in (good_letter.id, poison_letter.id)]
    assert [bytes(row.body) for row in again] == [POISONS["not json"]]
    assert again[0].error == poison_letter.error
    assert again[0].replayed_at is None
    replayed = {row.id: row.replayed_at for row in rows}
    assert replayed[good_letter.id] is not None and replayed[poison_letter.id] is not None
    time.sleep(0.5)
    assert replica_names(billing) == ["Replayed Ltd"]
    assert admin.post(f"/admin/dead-letters/{good_letter.id}/replay").status_code == 409


def test_a_dead_lettered_poison_from_the_broker_is_kept_without_stopping_the_worker(
    service_factory, amqp_url
):
    billing = service_factory("billing", with_worker=True)
    topology = billing.topology
    connection = pika.BlockingConnection(pika.URLParameters(pika_url(amqp_url)))
    try:
        connection.channel().basic_publish(
            topology.dead_letter_exchange.name,
            topology.queue_name("billing"),
            POISONS["nul bytes"],
            pika.BasicProperties(headers={"x-death": "not a list"}),
        )
    finally:
        connection.close()
    (letter,) = wait_until(lambda: dead_letter_rows(billing), what="the broker's dead letter")
    assert bytes(letter.body) == POISONS["nul bytes"]
    assert letter.origin == "broker"
    good = good_event("After The Poison")
    publish_raw(billing, body_of(good), CREATED)
    wait_until(lambda: replica_names(billing) == ["After The Poison"], what="the next event")
    assert billing.worker.consumer.restarts == 0


def test_while_the_database_is_away_messages_wait_with_the_consumer_not_the_broker(
    service_factory, caplog
):
    billing = service_factory("billing")
    url = make_url(billing.db.url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    settings = billing.settings.with_overrides(
        database_url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    )
    db = billing.definition.database(settings)
    worker = billing.definition.worker(settings, db, billing.topology)
    consumer, processor = worker.consumer, worker.processor
    assert consumer is not None and processor is not None
    attempts: list[int] = []
    redelivered: list[bool] = []
    process_batch, on_message = processor.process_batch, consumer._on_message

    def counting(bodies: Any) -> Any:
        attempts.append(len(bodies))
        return process_batch(bodies)

    def watching(message: Any) -> None:
        redelivered.append(bool(message.delivery_info.get("redelivered")))
        on_message(message)

    processor.process_batch = counting  # type: ignore[method-assign]
    consumer._on_message = watching  # type: ignore[method-assign]
    caplog.set_level(logging.WARNING, logger="shared.messaging")
    worker.start()
    try:
        wait_until(lambda: consumer.state == "consuming", what="the consumer to listen")
        proxy.cut()
        events = [good_event(f"Waiting {i}") for i in range(3)]
        for event in events:
            publish_raw(billing, body_of(event), CREATED)
        wait_until(lambda: consumer.state == "waiting for the database", what="the wait")
        time.sleep(6.0)
        assert len(attempts) <= 5, f"{len(attempts)} attempts in 6 s: a hot loop"
        assert replica_names(billing) == []

        proxy.restore()
        wait_until(lambda: len(replica_names(billing)) == 3, timeout=40, what="the events")
    finally:
        worker.stop()
        db.dispose()
        proxy.close()
    assert redelivered == [False, False, False], "the broker never had them back"
    assert consumer.restarts == 0
    said = [r.getMessage() for r in caplog.records if r.name.endswith("link")]
    held = [line for line in said if line.startswith("consumer") and "messages held" in line]
    assert len(held) == 1, said  # said once, not at every attempt
    assert any("working again" in line for line in said if line.startswith("consumer"))
