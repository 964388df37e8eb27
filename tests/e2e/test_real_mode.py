"""`tameio up --broker --database-url`: every service in its own processes, end to end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import urllib3
from sqlalchemy import create_engine, pool, text

from shared.config import SERVICE_PORTS
from tests.support.harness import clear_policies, wait_until

TOKEN = "real-mode-bootstrap-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def real_suite(amqp_url, postgres, names, run_id, tmp_path):
    exchange, prefix = names
    template = postgres.url_for(f"tameio_e2e{run_id}_SERVICE").replace("SERVICE", "{service}")
    ports = {name: free_port() for name in SERVICE_PORTS}
    env = {
        **os.environ,
        "TAMEIO_BOOTSTRAP_TOKEN": TOKEN,
        "TAMEIO_EXCHANGE": exchange,
        "TAMEIO_QUEUE_PREFIX": prefix,
        "TAMEIO_WEB_WORKERS": "1",
        "TAMEIO_WEB_THREADS": "4",
        "TAMEIO_DATA_DIR": str(tmp_path),
        **{
            f"TAMEIO_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()
        },
    }
    log = open(tmp_path / "up.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "up",
            "--broker",
            amqp_url,
            "--database-url",
            template,
            "--port",
            str(ports["gateway"]),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{ports['gateway']}"
    try:

        def all_ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(
                    f"tameio up exited: {(tmp_path / 'up.log').read_text()[-3000:]}"
                )
            try:
                return all(
                    urllib3.request("GET", f"{base}/api/{name}/readyz", timeout=2).status == 200
                    for name in SERVICE_PORTS
                    if name != "gateway"
                )
            except urllib3.exceptions.HTTPError:
                return False

        wait_until(all_ready, timeout=90, interval=0.5, what="every service to be ready")
        yield base, ports, template
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()
        clear_policies(prefix)
        admin = create_engine(
            postgres.url_for("postgres"), isolation_level="AUTOCOMMIT", poolclass=pool.NullPool
        )
        with admin.connect() as conn:
            for name in SERVICE_PORTS:
                conn.execute(
                    text(f'DROP DATABASE IF EXISTS "tameio_e2e{run_id}_{name}" WITH (FORCE)')
                )
        admin.dispose()


def test_customer_created_through_the_gateway_reaches_every_process_and_the_wire(
    real_suite, subscriber
):
    base, ports, template = real_suite
    started = time.monotonic()
    answer = urllib3.request(
        "POST",
        f"{base}/api/customers/customers",
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
        engine = create_engine(template.replace("{service}", "billing"), poolclass=pool.NullPool)
        try:
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM customer_replica")).scalar() == 1
        finally:
            engine.dispose()

    wait_until(replicated, timeout=20, what="billing's worker to replicate the customer")
    assert time.monotonic() - started < 20

    direct = urllib3.request("GET", f"http://127.0.0.1:{ports['customers']}/customers")
    assert direct.status == 401, "a service port reached without the gateway's signature refuses"
    assert urllib3.request("GET", f"http://127.0.0.1:{ports['customers']}/healthz").status == 200
