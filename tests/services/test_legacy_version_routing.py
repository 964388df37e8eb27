"""Legacy versions reach outside subscribers, never the suite's own queues (decision 99).

Everything is published to the events exchange, where outside subscribers bind; the suite's
queues are bound behind a headers exchange that passes on everything but a message whose
``tameio-legacy`` header says it is a legacy version.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pika
from kombu import Connection

from shared.messaging.topology import LEGACY_HEADER, QueueSpec, Topology
from tests.support.harness import declare, delete_topology, wait_until
from tests.support.subscriber import PikaSubscriber, pika_url

UPDATED = "billing.invoice.updated"


def _outbox_row(version: int | None, marker: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": UPDATED,
        "subject": "inv-1",
        "sequence": 1,
        "version": version,
        "payload": json.dumps({"marker": marker}),
        "created_at": dt.datetime.now(dt.UTC),
    }


def _taken(amqp_url: str, queue: str) -> list[tuple[Any, bytes]]:
    """Everything in ``queue`` now: (headers, body) each, acked."""
    with pika.BlockingConnection(pika.URLParameters(pika_url(amqp_url))) as conn:
        channel = conn.channel()
        found = []
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return found
            found.append((properties.headers, body))


def test_the_relay_marks_legacy_versions_and_only_outside_subscribers_get_them(
    service_factory, subscriber, amqp_url
):
    billing = service_factory("billing")
    payments = service_factory("payments")  # its queue is bound to billing.invoice.updated
    with billing.db.engine.begin() as conn:
        conn.execute(
            billing.db.tables.outbox.insert(),
            # version 1 is the legacy one (the catalog has 2); a row written before versions
            # were kept has none, and is published as a current version
            [_outbox_row(2, "v2"), _outbox_row(1, "v1"), _outbox_row(None, "before")],
        )

    billing.start_worker()
    received = subscriber.collect(3)

    marks = {r.body["marker"]: (r.properties.headers or {}).get(LEGACY_HEADER) for r in received}
    assert marks == {"v2": None, "v1": "true", "before": None}
    queue = payments.topology.queue_name("payments")
    wait_until(lambda: _depth(amqp_url, queue) == 2, what="the current versions to arrive")
    assert sorted(json.loads(body)["marker"] for _, body in _taken(amqp_url, queue)) == [
        "before",
        "v2",
    ]


def _depth(amqp_url: str, queue: str) -> int:
    with Connection(amqp_url) as conn:
        return int(conn.default_channel.queue_declare(queue, passive=True).message_count)


def test_a_queue_bound_before_the_versions_were_sorted_is_moved_behind_them(amqp_url, names):
    exchange, prefix = names
    specs = [QueueSpec("reporting", (UPDATED,))]
    before = Topology(exchange, specs, prefix, sort_versions=False)
    declare(amqp_url, before)  # bound straight to the events exchange, as it used to be
    now = Topology(exchange, specs, prefix)
    try:
        declare(amqp_url, now)
        declare(amqp_url, now)  # again: nothing left to unbind is no error
        with pika.BlockingConnection(pika.URLParameters(pika_url(amqp_url))) as conn:
            channel = conn.channel()
            channel.confirm_delivery()
            for marker, headers in (("legacy", {LEGACY_HEADER: "true"}), ("other", None)):
                channel.basic_publish(
                    exchange,
                    UPDATED,
                    json.dumps({"marker": marker}).encode(),
                    pika.BasicProperties(headers=headers, delivery_mode=2),
                )
        queue = now.queue_name("reporting")
        wait_until(lambda: _depth(amqp_url, queue) >= 1, what="the current version")
        taken = [json.loads(body)["marker"] for _, body in _taken(amqp_url, queue)]
        assert taken == ["other"], "once, through the new bindings only"
    finally:
        delete_topology(amqp_url, now)


def test_an_outside_subscriber_still_binds_to_the_events_exchange_alone(amqp_url, names):
    exchange, prefix = names
    topology = Topology(exchange, [QueueSpec("reporting", ("#",))], prefix)
    declare(amqp_url, topology)
    outside = PikaSubscriber(amqp_url, exchange, binding_key=UPDATED)
    try:
        with pika.BlockingConnection(pika.URLParameters(pika_url(amqp_url))) as conn:
            channel = conn.channel()
            channel.confirm_delivery()
            for version in (1, 2):
                channel.basic_publish(
                    exchange,
                    UPDATED,
                    json.dumps({"marker": f"v{version}"}).encode(),
                    pika.BasicProperties(headers={LEGACY_HEADER: "true"} if version == 1 else None),
                )
        assert sorted(r.body["marker"] for r in outside.collect(2)) == ["v1", "v2"]
    finally:
        outside.close()
        delete_topology(amqp_url, topology)
