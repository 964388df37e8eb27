"""The ceiling for the payment flow: the minimal pipeline with the same libraries.

HTTP POST (Flask under gunicorn) inserts a row and an outbox row in database A; a relay
publishes the outbox with kombu/py-amqp batch confirms; one consumer applies one UPDATE in
database B and acks. `measure_ceiling()` runs it under load and returns operations/s that
made it all the way through.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import urllib3
from sqlalchemy import create_engine, make_url, pool, text

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("ceiling_child.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure_ceiling(database: str, broker: str, seconds: float, threads: int) -> float:
    """End-to-end operations per second of the minimal pipeline under ``threads`` clients."""
    run = uuid.uuid4().hex[:8]
    admin = create_engine(
        make_url(database).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=pool.NullPool,
    )
    names = [f"ceiling_{run}_a", f"ceiling_{run}_b"]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url_a, url_b = (
        make_url(database).set(database=n).render_as_string(hide_password=False) for n in names
    )
    with create_engine(url_a, poolclass=pool.NullPool).begin() as conn:
        conn.execute(text("CREATE TABLE ops (id text PRIMARY KEY, amount bigint)"))
        conn.execute(
            text(
                "CREATE TABLE outbox "
                "(id bigserial PRIMARY KEY, payload text, published timestamptz)"
            )
        )
    with create_engine(url_b, poolclass=pool.NullPool).begin() as conn:
        conn.execute(text("CREATE TABLE inbox (id text PRIMARY KEY)"))
        conn.execute(text("CREATE TABLE balances (id int PRIMARY KEY, total bigint, ops bigint)"))
        conn.execute(text("INSERT INTO balances VALUES (1, 0, 0)"))
    port = _free_port()
    exchange = f"ceiling.{run}"
    children = [
        subprocess.Popen(
            [sys.executable, str(CHILD), role, url_a, url_b, broker, exchange, str(port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for role in ("consumer", "relay", "web")
    ]
    engine_b = create_engine(url_b, poolclass=pool.NullPool)

    def applied() -> int:
        with engine_b.connect() as conn:
            return int(conn.execute(text("SELECT ops FROM balances WHERE id = 1")).scalar_one())

    try:
        http = urllib3.PoolManager(maxsize=threads)
        base = f"http://127.0.0.1:{port}/ops"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if (
                    http.request(
                        "POST", base, json={"id": "warm", "amount": 0}, retries=False
                    ).status
                    == 201
                ):
                    break
            except urllib3.exceptions.HTTPError:
                time.sleep(0.3)
        time.sleep(2)
        start_count, started = applied(), time.monotonic()
        stop_at = started + seconds

        def hammer() -> None:
            while time.monotonic() < stop_at:
                http.request(
                    "POST", base, json={"id": str(uuid.uuid4()), "amount": 1}, retries=False
                )

        workers = [threading.Thread(target=hammer) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return (applied() - start_count) / (time.monotonic() - started)
    finally:
        for child in children:
            child.kill()
        engine_b.dispose()
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        try:
            import pika

            from tests.support.subscriber import pika_url

            connection = pika.BlockingConnection(pika.URLParameters(pika_url(broker)))
            channel = connection.channel()
            channel.queue_delete(f"{exchange}.q")
            channel.exchange_delete(exchange)
            connection.close()
        except Exception:
            pass


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from tests.support.realmode import BROKER, DATABASE

    rate = measure_ceiling(DATABASE, BROKER, float(os.environ.get("SECONDS", "15")), 16)
    print(json.dumps({"ceiling_ops_per_second": round(rate, 1)}))
