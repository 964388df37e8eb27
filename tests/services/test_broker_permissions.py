"""The least-privilege users of deploy/rabbitmq/definitions.json, on a real RabbitMQ.

The definitions the code builds are imported (with password hashes, as at deploy time)
into a virtual host of this test's own; then services' workers connect as their own users
with a passive topology and the suite still flows, while a service cannot publish another
service's events and the subscriber cannot publish at all.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pika
import pytest
from pika.exceptions import ChannelClosedByBroker

from services.registry import SERVICES
from services.reporting.models import LoggedEvent
from shared.events import CATALOG
from shared.messaging.definitions import broker_definitions, password_variable, with_passwords
from shared.messaging.topology import Topology
from tests.support.events import count
from tests.support.harness import wait_until

PASSWORD = "permission-test-password"


def rabbitmqctl(*args: str, stdin: str | None = None) -> None:
    result = subprocess.run(
        ["rabbitmqctl", "-q", *args], input=stdin, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"rabbitmqctl {args[0]}: {result.stderr}"


@pytest.fixture
def vhost(amqp_url: str, names: tuple[str, str]) -> Iterator[dict[str, Any]]:
    """This test's virtual host holding the suite's definitions, users named uniquely."""
    assert shutil.which("rabbitmqctl"), "rabbitmqctl is needed to import definitions"
    exchange, prefix = names
    name = f"tameio-perm-{uuid.uuid4().hex[:8]}"
    topology = Topology(exchange, [s.queue for s in SERVICES.values()], prefix)
    document = broker_definitions(topology, {spec.service for spec in CATALOG.values()})
    document = with_passwords(
        document, {password_variable(u["name"]): PASSWORD for u in document["users"]}
    )
    users = {u["name"]: f"{name}-{u['name']}" for u in document["users"]}

    def here(entry: dict[str, Any]) -> dict[str, Any]:
        moved = {**entry, "vhost": name} if "vhost" in entry else dict(entry)
        if "user" in moved:
            moved["user"] = users[moved["user"]]
        return moved

    imported = {
        **document,
        "users": [{**u, "name": users[u["name"]]} for u in document["users"]],
        "vhosts": [{"name": name}],
        **{
            key: [here(entry) for entry in document[key]]
            for key in (
                "permissions",
                "topic_permissions",
                "policies",
                "queues",
                "exchanges",
                "bindings",
            )
        },
    }
    imported["permissions"].append(
        {"user": "guest", "vhost": name, "configure": ".*", "write": ".*", "read": ".*"}
    )
    # On standard input: rabbitmqctl may run as another user, who cannot read tmp_path.
    rabbitmqctl("import_definitions", stdin=json.dumps(imported))
    host = amqp_url.split("@", 1)[1].split("/", 1)[0]

    def url_for(user: str) -> str:
        return f"amqp://{users[user]}:{PASSWORD}@{host}/{quote(name, safe='')}"

    try:
        yield {
            "exchange": exchange,
            "guest_url": f"{amqp_url.split('@', 1)[0]}@{host}/{quote(name, safe='')}",
            "url_for": url_for,
        }
    finally:
        rabbitmqctl("delete_vhost", name)
        for user in users.values():
            rabbitmqctl("delete_user", user)


def test_workers_run_as_their_own_users_with_a_passive_topology(service_factory, vhost):
    customers = service_factory("customers", broker=vhost["guest_url"])
    reporting = service_factory("reporting", broker=vhost["guest_url"])
    for sut in (customers, reporting):
        shared = sut.topology
        sut.topology = Topology(
            shared.exchange.name, shared.queues.values(), shared.prefix, passive=True
        )
        sut.settings = sut.settings.with_overrides(
            broker_url=vhost["url_for"](sut.settings.service)
        )
        sut.start_worker()

    customers.client(role="clerk").post("/customers", json={"name": "Least Privilege Ltd"})

    wait_until(
        lambda: count(reporting, LoggedEvent.__table__) >= 1,
        timeout=20,
        what="reporting, as its own user, to log the customer's event",
    )
    assert customers.worker and customers.worker.relay.connected


def _publish(url: str, exchange: str, routing_key: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(exchange, routing_key, b"{}")
    finally:
        if connection.is_open:
            connection.close()


def test_a_service_publishes_only_its_own_event_types(vhost):
    url, exchange = vhost["url_for"]("customers"), vhost["exchange"]
    _publish(url, exchange, "customers.customer.created")  # its own: allowed

    with pytest.raises(ChannelClosedByBroker, match="ACCESS_REFUSED"):
        _publish(url, exchange, "billing.invoice.issued")


def test_the_subscriber_reads_its_own_queue_and_publishes_nothing(vhost):
    url, exchange = vhost["url_for"]("subscriber"), vhost["exchange"]
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        queue = "subscriber.test.invoices"
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(queue, exchange, routing_key="billing.invoice.*")
        with pytest.raises(ChannelClosedByBroker, match="ACCESS_REFUSED"):
            connection.channel().queue_declare("not-mine", durable=True)
    finally:
        if connection.is_open:
            connection.close()

    # Neither to the events exchange nor straight into its own queue (the default exchange).
    for target, routing_key in ((exchange, "billing.invoice.issued"), ("", queue)):
        with pytest.raises(ChannelClosedByBroker, match="ACCESS_REFUSED"):
            _publish(url, target, routing_key)
