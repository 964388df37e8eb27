"""What the broker itself gives up on (delivery limit) ends in the service's dead letters."""

from __future__ import annotations

import json

import pika

from tests.support.harness import wait_until
from tests.support.subscriber import pika_url


def test_a_message_the_broker_dead_lettered_is_drained_into_dead_letters(service_factory, amqp_url):
    reporting = service_factory("reporting", with_worker=True)
    topology = reporting.topology
    body = json.dumps({"id": "3f2b9c1e-0000-4000-8000-000000000001", "type": "x.y.z"}).encode()

    # What RabbitMQ does when a quorum queue's delivery limit is reached under the policy
    # from `tameio broker policies`: republish to the dead-letter exchange, x-death attached.
    connection = pika.BlockingConnection(pika.URLParameters(pika_url(amqp_url)))
    try:
        connection.channel().basic_publish(
            topology.dead_letter_exchange.name,
            topology.queue_name("reporting"),
            body,
            pika.BasicProperties(
                headers={"x-death": [{"reason": "delivery_limit", "queue": "reporting.events"}]}
            ),
        )
    finally:
        connection.close()

    parked = wait_until(
        lambda: reporting.rows(reporting.db.tables.dead_letters), what="the dead letter row"
    )
    (row,) = parked
    assert row.origin == "broker"
    assert "delivery_limit" in row.error
    assert row.event_id == "3f2b9c1e-0000-4000-8000-000000000001"
    listed = reporting.client().get("/admin/dead-letters").get_json()["items"]
    assert [item["origin"] for item in listed] == ["broker"]
