"""The broker goes away while customers are created, then comes back: nothing is lost."""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import urlsplit

import pytest

from services.reporting.models import LoggedEvent
from tests.support.harness import wait_until
from tests.support.tcpproxy import TcpProxy


@pytest.fixture
def proxy(amqp_url):
    parts = urlsplit(amqp_url)
    tcp = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    yield (
        tcp,
        amqp_url.replace(f"{parts.hostname}:{parts.port or 5672}", f"127.0.0.1:{tcp.port}", 1),
    )
    tcp.close()


def test_events_survive_a_broker_outage_in_order_and_are_applied_once(
    service_factory, subscriber, proxy
):
    tcp, via_proxy = proxy
    customers = service_factory("customers", with_worker=True, broker=via_proxy)
    reporting = service_factory("reporting", with_worker=True, broker=via_proxy)
    clerk = customers.client(role="clerk")

    before = [clerk.post("/customers", json={"name": f"Before {i}"}).get_json() for i in range(3)]
    wait_until(lambda: customers.unpublished() == 0, what="events before the outage published")

    tcp.cut()
    during = []
    for i in range(10):
        answer = clerk.post("/customers", json={"name": f"During {i}"})
        assert answer.status_code == 201  # the API keeps working without the broker
        created = answer.get_json()
        assert clerk.patch(f"/customers/{created['id']}", json={"notes": "v2"}).status_code == 200
        during.append(created)
    assert customers.unpublished() == 20, "events wait in the outbox while the broker is away"

    tcp.restore()
    wait_until(
        lambda: customers.unpublished() == 0, timeout=40, what="the relay to drain the outbox"
    )

    outbox = customers.outbox()
    received = subscriber.collect(len(outbox), timeout=30)
    first_seen: dict[str, dict] = {}
    for message in received:
        first_seen.setdefault(message.body["id"], message.body)
    assert set(first_seen) == {row.event_id for row in outbox}, "every event arrives at least once"

    per_subject: dict[str, list[int]] = defaultdict(list)
    for body in first_seen.values():
        per_subject[body["subject"]].append(body["sequence"])
    for customer in before + during:
        sequences = per_subject[customer["id"]]
        assert sequences == sorted(sequences), f"events of {customer['id']} out of order"
    for customer in during:
        assert per_subject[customer["id"]] == [1, 2]

    def consumer_state() -> str:
        worker = reporting.worker
        assert worker is not None and worker.consumer is not None and worker.processor is not None
        return (
            f"reporting consumer connected={worker.consumer.connected} lag={worker.consumer.lag} "
            f"error={worker.consumer.last_error} outcomes={worker.processor.counts}"
        )

    logged = wait_until(
        lambda: (
            (rows := reporting.rows(LoggedEvent.__table__)) and len(rows) >= len(outbox) and rows
        ),
        timeout=40,
        what=lambda: f"reporting to apply every event ({consumer_state()})",
    )
    ids = [row.event_id for row in logged]
    assert sorted(ids) == sorted(row.event_id for row in outbox), "each event applied exactly once"
