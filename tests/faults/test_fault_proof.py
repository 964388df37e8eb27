"""The fault proof: the whole suite in real mode (every service in its own processes, on
RabbitMQ and PostgreSQL) keeps every cent and every notice while faults happen under a
stream of payments, and each test ends with the full reconciliation.

One suite serves the module. Its broker connections go through a TCP proxy the tests can
cut, its emails go to an SMTP server on loopback they can stop, and its databases live in a
private PostgreSQL cluster the module starts itself (initdb in a temporary folder), which a
test restarts: never the machine's shared server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pika
import pytest
from sqlalchemy import create_engine, make_url, pool, text

from services.registry import SERVICES
from shared.messaging.topology import Topology
from tests.services.test_poison_messages import POISONS
from tests.support.faults import (
    CONSUMING,
    Book,
    Poisoned,
    SmtpCatcher,
    careful_post,
    gateway_with_items,
    reconcile,
)
from tests.support.gateway import FLAT, Gateway
from tests.support.harness import delete_topology, wait_until
from tests.support.pgcluster import PrivateCluster
from tests.support.realmode import RealSuite, start_real_suite
from tests.support.subscriber import PikaSubscriber, pika_url
from tests.support.tcpproxy import TcpProxy

# The module's suite starts (and stops) with its first (and last) test: minutes, not seconds.
pytestmark = pytest.mark.timeout(300)

POISONED = Poisoned()  # what the tests of this module sent to be parked
# Two routing keys reach every consuming service's queue.
POISON_KEYS = ("payments.payment.received", "customers.customer.created")
# Kinds no consumer can read at all; the others (a NUL in a field, an unknown type) are
# parked by the services that handle that event and ignored or kept by the rest.
UNREADABLE = {
    "nul bytes",
    "invalid utf-8",
    "not json",
    "json of the wrong shape",
    "json null",
    "no id",
    "10 MB",
    "nested 100000 deep",
    "5000-digit number",
}


@pytest.fixture(scope="module")
def proxy(amqp_url: str) -> Iterator[TcpProxy]:
    parts = urlsplit(amqp_url)
    tcp = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    yield tcp
    tcp.close()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpCatcher]:
    catcher = SmtpCatcher()
    catcher.start()
    yield catcher
    catcher.stop()


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    private = PrivateCluster()
    yield private
    private.destroy()


@pytest.fixture(scope="module")
def suite(
    amqp_url: str, run_id: str, proxy: TcpProxy, smtp: SmtpCatcher, cluster: PrivateCluster
) -> Iterator[RealSuite]:
    parts = urlsplit(amqp_url)
    via_proxy = amqp_url.replace(
        f"{parts.hostname}:{parts.port or 5672}", f"127.0.0.1:{proxy.port}", 1
    )
    exchange, prefix = f"tameio.test.{run_id}.faults", f"t{run_id}-faults."
    real = start_real_suite(
        via_proxy,
        exchange,
        prefix,
        env={
            "TAMEIO_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
            "TAMEIO_RETRY_BASE_DELAY_SECONDS": "0.2",
        },
        database=cluster.url,
    )
    yield real
    real.stop()
    delete_topology(amqp_url, Topology(exchange, [s.queue for s in SERVICES.values()], prefix))


@pytest.fixture(scope="module")
def api(suite: RealSuite) -> Gateway:
    return gateway_with_items(suite)


def proof(suite: RealSuite, api: Gateway, amqp_url: str, book: Book, smtp: SmtpCatcher) -> None:
    reconcile(suite, api, amqp_url, book.customers, POISONED, smtp)


def publish(amqp_url: str, exchange: str, routing_key: str, body: bytes) -> None:
    """As an outside system with publish rights would, over plain AMQP."""
    connection = pika.BlockingConnection(pika.URLParameters(pika_url(amqp_url)))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            exchange,
            routing_key,
            body,
            pika.BasicProperties(
                content_type="application/json", delivery_mode=2, message_id=str(uuid.uuid4())
            ),
        )
    finally:
        connection.close()


def bound(routing_key: str) -> list[str]:
    """The consuming services whose queue receives ``routing_key``."""
    return [
        service
        for service in CONSUMING
        if routing_key in SERVICES[service].queue.bindings
        or "#" in SERVICES[service].queue.bindings
    ]


def test_every_kind_of_poison_on_every_binding_costs_the_good_traffic_nothing(
    suite, api, amqp_url, smtp
):
    book = Book.open(api)
    assert set(CONSUMING) == {s for key in POISON_KEYS for s in bound(key)}
    with book.streaming(12):
        for key in POISON_KEYS:
            for kind, body in POISONS.items():
                publish(amqp_url, suite.exchange, key, body)
                POISONED.published(body, bound(key), kind in UNREADABLE)
    proof(suite, api, amqp_url, book, smtp)


def test_the_broker_gone_in_the_middle_of_the_stream(suite, api, amqp_url, smtp, proxy):
    book = Book.open(api)
    with book.streaming(12):
        time.sleep(1.0)
        proxy.cut()
        time.sleep(5.0)
        proxy.restore()
    proof(suite, api, amqp_url, book, smtp)


def test_kill_9_of_billings_worker_in_the_middle_of_a_batch(suite, api, amqp_url, smtp):
    book = Book.open(api)
    (worker,) = suite.child_pids(r"services\.cli worker billing$")
    with book.streaming(16):
        time.sleep(1.5)
        os.kill(worker, signal.SIGKILL)
    wait_until(
        lambda: suite.child_pids(r"services\.cli worker billing$"),
        timeout=20,
        what="`tameio up` to restart billing's worker",
    )
    proof(suite, api, amqp_url, book, smtp)


def test_the_billing_database_connections_killed_under_load(suite, api, amqp_url, smtp):
    book = Book.open(api)
    url = make_url(suite.database_url("billing"))
    database = url.database
    admin = create_engine(url.set(database="postgres"), poolclass=pool.NullPool)
    try:
        with book.streaming(16):
            for _ in range(3):
                time.sleep(1.0)
                with admin.connect() as conn:
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :db AND pid <> pg_backend_pid()"
                        ),
                        {"db": database},
                    )
                    conn.commit()
    finally:
        admin.dispose()
    proof(suite, api, amqp_url, book, smtp)


def test_a_restart_of_the_database_server_under_load(suite, api, amqp_url, smtp, cluster):
    book = Book.open(api)
    with book.streaming(16):
        time.sleep(1.0)
        cluster.restart()
    proof(suite, api, amqp_url, book, smtp)


def test_smtp_down_for_a_while_then_back_sends_every_notice_once(suite, api, amqp_url, smtp):
    smtp.stop()
    try:
        book = Book.open(api)
        book.stream(8)
        time.sleep(3.0)
    finally:
        smtp.start()
    proof(suite, api, amqp_url, book, smtp)
    sent = {m["Subject"] for m in smtp.messages}
    assert any("Payment received" in str(subject) for subject in sent)


def test_a_web_process_down_answers_503_then_recovers_by_itself(suite, api, amqp_url, smtp):
    book = Book.open(api, customers=1, invoices=1)
    web = suite.child_pids(r"services\.cli serve payments$")
    assert web, "payments' web process"
    for pid in web:
        for child in suite_children(pid):
            os.kill(child, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
    answer = api.call("GET", "payments/payments?limit=1")
    assert answer.status == 503, (answer.status, answer.data)
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    wait_until(
        lambda: api.call("GET", "payments/payments?limit=1").status == 200,
        timeout=30,
        interval=0.5,
        what="payments' web process to be back",
    )
    book.stream(2)
    proof(suite, api, amqp_url, book, smtp)


def suite_children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


def test_the_same_event_twice_and_events_out_of_order(suite, api, amqp_url, smtp):
    book = Book.open(api, customers=1, invoices=1)
    (customer,) = book.customers
    updates = PikaSubscriber(amqp_url, suite.exchange, "customers.customer.updated")
    received = PikaSubscriber(amqp_url, suite.exchange, "payments.payment.received")
    try:
        for name in ("Renamed Once SA", "Renamed Twice SA"):
            answer = api.call("PATCH", f"customers/customers/{customer}", {"name": name})
            assert answer.status == 200, answer.data
        older, newer = updates.collect(2, timeout=20)[:2]
        book.pay(customer, "60.00", time.monotonic() + 30)
        (payment,) = received.collect(1, timeout=20)
    finally:
        updates.close()
        received.close()
    # Every consumer gets the newer snapshot before the older one, then both again, and the
    # payment three times: replicas keep the newest, and the payment is applied once.
    for message in (newer, older, newer, older, payment, payment):
        publish(amqp_url, suite.exchange, message.routing_key, json.dumps(message.body).encode())
    proof(suite, api, amqp_url, book, smtp)
    billing = create_engine(suite.database_url("billing"), poolclass=pool.NullPool)
    try:
        with billing.connect() as conn:
            name = conn.execute(
                text("SELECT name FROM customer_replica WHERE id = :id"), {"id": customer}
            ).scalar()
    finally:
        billing.dispose()
    assert name == "Renamed Twice SA"
    assert api.account(customer)["balance"] == "40.00"


def test_twenty_parallel_payments_on_one_invoice_lose_no_cent(suite, api, amqp_url, smtp):
    book = Book.open(api, customers=1, invoices=1)
    (customer,) = book.customers
    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(10) as pool_:
        list(pool_.map(lambda _: book.pay(customer, "7.00", deadline), range(20)))
    proof(suite, api, amqp_url, book, smtp)
    account = api.account(customer)
    assert (account["balance"], account["unapplied_credit"]) == ("-40.00", "40.00")
    (invoice,) = api.get(f"billing/invoices?customer_id={customer}")["items"]
    assert (invoice["status"], invoice["amount_due"]) == ("paid", "0.00")


def test_fifty_parallel_invoices_get_unique_gapless_numbers(suite, api, amqp_url, smtp):
    book = Book.open(api, customers=2, invoices=0)
    deadline = time.monotonic() + 60
    lines = [{"sku": FLAT, "quantity": 1}]

    def invoice(customer: str) -> dict:
        body = {"customer_id": customer, "lines": lines}
        return careful_post(api, "billing/invoices", body, deadline)

    with ThreadPoolExecutor(10) as pool_:
        issued = list(pool_.map(lambda i: invoice(book.customers[i % 2]), range(50)))
    numbers = sorted(int(invoice["number"].rsplit("-", 1)[1]) for invoice in issued)
    assert numbers == list(range(numbers[0], numbers[0] + 50))
    proof(suite, api, amqp_url, book, smtp)


@pytest.mark.serial
def test_the_broker_stopped_for_real_in_the_middle_of_the_stream(suite, api, amqp_url, smtp):
    book = Book.open(api)
    with book.streaming(12):
        time.sleep(1.0)
        subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, timeout=60)
        try:
            time.sleep(4.0)
        finally:
            subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, timeout=120)
            subprocess.run(
                ["rabbitmqctl", "-q", "await_startup", "--timeout", "120"], check=True, timeout=130
            )
    proof(suite, api, amqp_url, book, smtp)
