"""A customer created through the API reaches an outside pika subscriber as documented."""

from __future__ import annotations

import uuid

from tests.support.harness import wait_until


def test_customer_created_event_on_the_wire(service_factory, subscriber):
    customers = service_factory("customers", with_worker=True)
    answer = customers.client(role="clerk").post(
        "/customers", json={"name": "Acme Ltd", "email": "ap@acme.test"}
    )
    assert answer.status_code == 201, answer.get_json()
    customer = answer.get_json()

    (message,) = subscriber.collect(1)

    assert message.routing_key == "customers.customer.created"
    props = message.properties
    assert props.content_type == "application/json"
    assert props.delivery_mode == 2
    assert props.type == "customers.customer.created"
    assert props.message_id == message.body["id"]
    assert props.app_id == "customers"
    envelope = message.body
    assert uuid.UUID(envelope["id"])
    assert envelope["type"] == "customers.customer.created"
    assert envelope["version"] == 1
    assert envelope["source"] == "customers"
    assert envelope["subject"] == customer["id"]
    assert envelope["sequence"] == 1
    assert envelope["occurred_at"].endswith("Z")
    assert envelope["correlation_id"]
    assert envelope["data"] == customer
    wait_until(lambda: customers.unpublished() == 0, what="outbox marked published")


def test_sequence_rises_per_subject(service_factory, subscriber):
    customers = service_factory("customers", with_worker=True)
    client = customers.client(role="admin")
    created = client.post("/customers", json={"name": "Beta"}).get_json()
    client.patch(f"/customers/{created['id']}", json={"notes": "prefers email"})
    client.post(f"/customers/{created['id']}/archive")

    messages = subscriber.collect(3)

    assert [m.routing_key for m in messages] == [
        "customers.customer.created",
        "customers.customer.updated",
        "customers.customer.archived",
    ]
    assert [m.body["sequence"] for m in messages] == [1, 2, 3]
    assert messages[1].body["data"]["notes"] == "prefers email"
    assert messages[2].body["data"]["customer_id"] == created["id"]
