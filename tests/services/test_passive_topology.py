"""TAMEIO_DECLARE_TOPOLOGY=false: workers only check the topology ops loaded, never make it.

Least-privilege broker users (deploy/rabbitmq/definitions.json) may not declare the exchange
or another service's queue; a passive declare needs no permission and creates nothing.
"""

from __future__ import annotations

import pytest
from amqp.exceptions import NotFound
from kombu import Connection, Exchange

from services.registry import topology
from services.reporting.models import LoggedEvent
from shared.config import load_settings
from shared.messaging.topology import QueueSpec, Topology
from tests.support.events import count
from tests.support.harness import declare, delete_topology, wait_until


def test_the_setting_makes_the_suites_topology_passive() -> None:
    env = {"TAMEIO_INTERNAL_SECRET": "s" * 32}
    assert not topology(load_settings("billing", env)).passive
    off = load_settings("billing", {**env, "TAMEIO_DECLARE_TOPOLOGY": "false"})
    assert off.declare_topology is False
    assert topology(off).passive


def test_a_passive_topology_creates_nothing_and_fails_on_what_is_missing(amqp_url, names):
    exchange, prefix = names
    specs = [QueueSpec("reporting", ("#",))]
    passive = Topology(exchange, specs, prefix, passive=True)
    with Connection(amqp_url, connect_timeout=5) as conn:
        with pytest.raises(NotFound):
            passive.declare(conn.channel())
        with pytest.raises(NotFound, match=exchange):
            Exchange(exchange, type="topic")(conn.channel()).declare(passive=True)

    declaring = Topology(exchange, specs, prefix)
    declare(amqp_url, declaring)
    try:
        with Connection(amqp_url, connect_timeout=5) as conn:
            passive.declare(conn.channel())  # everything there: no error
    finally:
        delete_topology(amqp_url, declaring)


def test_workers_with_a_passive_topology_publish_and_consume(service_factory):
    customers = service_factory("customers", TAMEIO_DECLARE_TOPOLOGY="false")
    reporting = service_factory("reporting", TAMEIO_DECLARE_TOPOLOGY="false")
    shared = customers.topology  # declared by the fixture, as ops' definitions would be
    passive = Topology(shared.exchange.name, shared.queues.values(), shared.prefix, passive=True)
    for sut in (customers, reporting):
        sut.topology = passive
        worker = sut.start_worker()
        assert not worker.relay.declare_exchange

    customers.client(role="clerk").post("/customers", json={"name": "Checked Ltd"})

    wait_until(
        lambda: count(reporting, LoggedEvent.__table__) >= 1,
        timeout=20,
        what="reporting to log the customer's event",
    )
