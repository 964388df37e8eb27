"""A same-shape ceiling for the payment flow: the flow's shape with nothing else in it.

Two HTTP hops (a proxy, as the gateway, in front of a web process, both Flask under
gunicorn); the web inserts a row and one outbox row in database A; a relay publishes it
(kombu batch confirms). A first consumer (as billing) inserts its inbox row and a row, and
``publishes - 1`` outbox rows in database B, which a second relay publishes; every other
consumer (as payments, notifier, customers and reporting, the last bound to everything) does
one insert with an inbox row in its own database per delivery, so that each operation makes
``publishes`` publishes and ``deliveries`` deliveries, as the flow does per payment. Like
the flow's consumers, each applies what is waiting (up to 50) in one transaction.
`measure_same_shape()` returns operations/s whose every delivery was done.

Usage as a child: same_shape.py ROLE JSON (the parent starts every role).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import urllib3
from sqlalchemy import create_engine, make_url, pool, text

ROOT = Path(__file__).resolve().parents[2]
CONSUMERS = ("billing", "payments", "notifier", "customers", "reporting")


def plan(publishes: int, deliveries: int) -> dict[str, list[str]]:
    """Routing keys each consumer binds: billing takes e0 and publishes e1..; reporting
    takes everything; the rest of the deliveries are dealt round to the other three."""
    keys = [f"e{n}" for n in range(publishes)]
    bound: dict[str, list[str]] = {name: [] for name in CONSUMERS}
    bound["billing"] = ["e0"]
    bound["reporting"] = ["#"]
    others = ("payments", "notifier", "customers")
    pairs = [(name, key) for key in keys for name in others]
    for name, key in pairs[: max(deliveries - 1 - publishes, 0)]:
        bound[name].append(key)
    return bound


# -- the children --------------------------------------------------------------------------


def _serve(app: Any, port: int) -> None:
    from gunicorn.app.base import BaseApplication

    class App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in (
                ("bind", f"127.0.0.1:{port}"),
                ("workers", 1),
                ("threads", 4),
                ("worker_class", "gthread"),
            ):
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    App().run()


def proxy(config: dict[str, Any]) -> None:
    from flask import Flask, Response, request

    app = Flask("proxy")
    http = urllib3.PoolManager(maxsize=8)
    target = f"http://127.0.0.1:{config['web_port']}/ops"

    @app.post("/ops")
    def forward() -> Any:
        answer = http.request(
            "POST", target, body=request.get_data(), headers={"Content-Type": "application/json"}
        )
        return Response(answer.data, status=answer.status, mimetype="application/json")

    _serve(app, config["port"])


def web(config: dict[str, Any]) -> None:
    from flask import Flask, request

    app = Flask("web")
    engine = create_engine(config["db"], pool_size=4)
    insert = text("INSERT INTO rows (id, key) VALUES (:i, 'op')")
    outbox = text("INSERT INTO outbox (key, payload) VALUES ('e0', :p)")

    @app.post("/ops")
    def op() -> Any:
        body = request.get_json()
        with engine.begin() as conn:
            conn.execute(insert, {"i": body["id"]})
            conn.execute(outbox, {"p": json.dumps({"op": body["id"], "key": "e0"})})
            conn.execute(text("NOTIFY same_shape"))
        return {"id": body["id"]}, 201

    _serve(app, config["port"])


def relay(config: dict[str, Any]) -> None:
    from tests.load.ceiling_child import relay_outbox

    pending_rows = text(
        "SELECT id, key, payload FROM outbox WHERE published IS NULL ORDER BY id LIMIT 500"
    )
    engine = create_engine(config["db"])
    relay_outbox(
        engine,
        config["broker"],
        config["exchange"],
        "same_shape",
        pending_rows,
        key=lambda r: r.key,
    )


def consumer(config: dict[str, Any]) -> None:
    from kombu import Connection, Consumer, Exchange, Queue, binding

    engine = create_engine(config["db"])
    exchange = Exchange(config["exchange"], type="topic", durable=True)
    inbox = text("INSERT INTO inbox (id) VALUES (:i) ON CONFLICT DO NOTHING RETURNING id")
    insert = text("INSERT INTO rows (id, key) VALUES (:i, :k)")
    outbox = text("INSERT INTO outbox (key, payload) VALUES (:k, :p)")
    onward = config["onward"]  # what this consumer publishes per delivery (billing only)
    with Connection(config["broker"]) as conn:
        channel = conn.channel()
        queue = Queue(
            config["queue"],
            bindings=[binding(exchange, routing_key=key) for key in config["keys"]],
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )(channel)
        queue.declare()
        channel.basic_qos(0, 50, False)

        received: list[Any] = []

        def apply(batch: list[Any]) -> None:
            """One transaction per batch, as the flow's consumers take what is waiting."""
            with engine.begin() as db:
                for message in batch:
                    body = json.loads(message.body)
                    if db.execute(inbox, {"i": f"{body['op']}:{body['key']}"}).first() is None:
                        continue
                    db.execute(insert, {"i": body["op"], "k": body["key"]})
                    for key in onward:
                        payload = json.dumps({"op": body["op"], "key": key})
                        db.execute(outbox, {"k": key, "p": payload})
                if onward:
                    db.execute(text("NOTIFY same_shape"))
            batch[-1].ack(multiple=True)

        with Consumer(channel, queues=[queue], on_message=received.append):
            while True:
                with contextlib.suppress(TimeoutError, socket.timeout):
                    conn.drain_events(timeout=1)
                while received and len(received) < 50:
                    before = len(received)
                    with contextlib.suppress(TimeoutError, socket.timeout):
                        conn.drain_events(timeout=0.001)
                    if len(received) == before:
                        break
                if received:
                    batch, received[:] = list(received), []
                    apply(batch)


# -- the parent ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure_same_shape(
    database: str, broker: str, seconds: float, threads: int, publishes: int, deliveries: int
) -> float:
    """Operations per second whose every delivery was done, under ``threads`` clients."""
    run = uuid.uuid4().hex[:8]
    server = make_url(database)
    admin = create_engine(
        server.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=pool.NullPool
    )
    names = {role: f"same_{run}_{role}" for role in ("web", *CONSUMERS)}
    urls = {
        role: server.set(database=name).render_as_string(hide_password=False)
        for role, name in names.items()
    }
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    for url in urls.values():
        with create_engine(url, poolclass=pool.NullPool).begin() as conn:
            conn.execute(text("CREATE TABLE inbox (id text PRIMARY KEY)"))
            conn.execute(text("CREATE TABLE rows (id text, key text)"))
            conn.execute(
                text(
                    "CREATE TABLE outbox (id bigserial PRIMARY KEY, key text, payload text, "
                    "published timestamptz)"
                )
            )
    exchange = f"same.{run}"
    bound = plan(publishes, deliveries)
    per_op = sum(publishes if keys == ["#"] else len(keys) for keys in bound.values())
    proxy_port, web_port = _free_port(), _free_port()
    roles: list[tuple[str, dict[str, Any]]] = [
        ("proxy", {"port": proxy_port, "web_port": web_port}),
        ("web", {"port": web_port, "db": urls["web"]}),
        ("relay", {"db": urls["web"], "broker": broker, "exchange": exchange}),
        ("relay", {"db": urls["billing"], "broker": broker, "exchange": exchange}),
    ]
    for name in CONSUMERS:
        roles.append(
            (
                "consumer",
                {
                    "db": urls[name],
                    "broker": broker,
                    "exchange": exchange,
                    "queue": f"{exchange}.{name}",
                    "keys": bound[name],
                    "onward": [f"e{n}" for n in range(1, publishes)] if name == "billing" else [],
                },
            )
        )
    children = [
        subprocess.Popen(
            [sys.executable, __file__, role, json.dumps(config)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for role, config in roles
    ]
    engines = [create_engine(urls[name], poolclass=pool.NullPool) for name in CONSUMERS]

    def delivered() -> int:
        total = 0
        for engine in engines:
            with engine.connect() as conn:
                total += int(conn.execute(text("SELECT count(*) FROM inbox")).scalar_one())
        return total

    try:
        http = urllib3.PoolManager(maxsize=threads)
        base = f"http://127.0.0.1:{proxy_port}/ops"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(urllib3.exceptions.HTTPError):
                answer = http.request("POST", base, json={"id": "warm"}, retries=False)
                if answer.status == 201:
                    break
            time.sleep(0.3)
        time.sleep(3)  # every consumer declared and bound
        start_count, started = delivered(), time.monotonic()
        stop_at = started + seconds

        def hammer() -> None:
            while time.monotonic() < stop_at:
                http.request("POST", base, json={"id": str(uuid.uuid4())}, retries=False)

        workers = [threading.Thread(target=hammer) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return (delivered() - start_count) / per_op / (time.monotonic() - started)
    finally:
        for child in children:
            child.kill()
        for engine in engines:
            engine.dispose()
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        with contextlib.suppress(Exception):
            import pika

            from tests.support.subscriber import pika_url

            connection = pika.BlockingConnection(pika.URLParameters(pika_url(broker)))
            channel = connection.channel()
            for name in CONSUMERS:
                channel.queue_delete(f"{exchange}.{name}")
            channel.exchange_delete(exchange)
            connection.close()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # the relay borrows the one-hop ceiling's
    role, raw = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "{}"
    if role in {"proxy", "web", "relay", "consumer"}:
        {"proxy": proxy, "web": web, "relay": relay, "consumer": consumer}[role](json.loads(raw))
    else:
        from tests.support.realmode import BROKER, DATABASE

        publishes, deliveries = int(sys.argv[1]), int(sys.argv[2])
        rate = measure_same_shape(DATABASE, BROKER, 15.0, 16, publishes, deliveries)
        print(json.dumps({"same_shape_ops_per_second": round(rate, 1)}))
