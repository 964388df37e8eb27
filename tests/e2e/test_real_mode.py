"""`tameio up --broker --database-url`: every service in its own processes, end to end."""

from __future__ import annotations

import time

import pytest
import urllib3
from sqlalchemy import create_engine, pool, text

from tests.support.harness import wait_until
from tests.support.realmode import TOKEN, start_real_suite


@pytest.fixture
def real_suite(amqp_url, names):
    exchange, prefix = names
    suite = start_real_suite(amqp_url, exchange, prefix, web_workers=1)
    yield suite
    suite.stop()


def test_customer_created_through_the_gateway_reaches_every_process_and_the_wire(
    real_suite, subscriber
):
    started = time.monotonic()
    answer = urllib3.request(
        "POST",
        f"{real_suite.base}/api/customers/customers",
        json={"name": "Real Mode SA", "currency": "EUR"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status == 201, answer.data
    customer = answer.json()
    assert customer["number"] == "C-000001"

    (message,) = subscriber.collect(1, timeout=20)
    assert message.routing_key == "customers.customer.created"
    assert message.properties.message_id == message.body["id"]
    assert message.body["data"]["id"] == customer["id"]

    def replicated() -> bool:
        engine = create_engine(real_suite.database_url("billing"), poolclass=pool.NullPool)
        try:
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM customer_replica")).scalar() == 1
        finally:
            engine.dispose()

    wait_until(replicated, timeout=20, what="billing's worker to replicate the customer")
    assert time.monotonic() - started < 20

    customers_port = f"http://127.0.0.1:{real_suite.ports['customers']}"
    direct = urllib3.request("GET", f"{customers_port}/customers")
    assert direct.status == 401, "a service port reached without the gateway's signature refuses"
    assert urllib3.request("GET", f"{customers_port}/healthz").status == 200
