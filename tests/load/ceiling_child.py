"""One process of the minimal pipeline (see ceiling.py): ``web``, ``relay`` or ``consumer``.

Usage: ceiling_child.py ROLE URL_A URL_B BROKER EXCHANGE PORT
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

from sqlalchemy import create_engine, text

INSERT_OP = text("INSERT INTO ops (id, amount) VALUES (:i, :a)")
INSERT_OUTBOX = text("INSERT INTO outbox (payload) VALUES (:p)")
PENDING = text("SELECT id, payload FROM outbox WHERE published IS NULL ORDER BY id LIMIT 500")
MARK = text("UPDATE outbox SET published = now() WHERE id = ANY(:ids)")
INBOX = text("INSERT INTO inbox (id) VALUES (:i) ON CONFLICT DO NOTHING")
APPLY = text("UPDATE balances SET total = total + :a, ops = ops + 1 WHERE id = 1")


def web(url_a: str, port: str) -> None:
    from flask import Flask, request
    from gunicorn.app.base import BaseApplication

    def factory() -> Flask:
        app = Flask("ceiling")
        engine = create_engine(url_a, pool_size=8)

        @app.post("/ops")
        def op() -> Any:
            body = request.get_json()
            with engine.begin() as conn:
                conn.execute(INSERT_OP, {"i": body["id"], "a": body["amount"]})
                conn.execute(INSERT_OUTBOX, {"p": json.dumps(body)})
                conn.execute(text("NOTIFY ceiling_outbox"))
            return {"id": body["id"]}, 201

        return app

    class App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in (
                ("bind", f"127.0.0.1:{port}"),
                ("workers", 2),
                ("threads", 4),
                ("worker_class", "gthread"),
            ):
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return factory()

    App().run()


def relay(url_a: str, broker: str, exchange_name: str) -> None:
    relay_outbox(
        create_engine(url_a),
        broker,
        exchange_name,
        "ceiling_outbox",
        PENDING,
        key=lambda _row: "op",
    )


def relay_outbox(
    engine: Any, broker: str, exchange_name: str, channel_name: str, pending_rows: Any, *, key: Any
) -> None:
    """Publish what ``pending_rows`` selects from the outbox (each to routing key
    ``key(row)``) with confirms per batch, mark it published, and wait on ``channel_name``'s
    NOTIFY when nothing is pending: the relay of the one-hop and same-shape ceilings."""
    import psycopg
    from kombu import Connection, Exchange, Producer

    exchange = Exchange(exchange_name, type="topic", durable=True)
    url = engine.url
    listener = psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    )
    listener.execute(f"LISTEN {channel_name}")
    with Connection(broker) as conn:
        channel = conn.channel()
        exchange(channel).declare()
        channel.confirm_select()
        pending: set[int] = set()
        tag = 0

        def ack(delivery_tag: int, multiple: bool) -> None:
            done = [t for t in pending if t <= delivery_tag] if multiple else [delivery_tag]
            pending.difference_update(done)

        channel.events["basic_ack"].add(ack)
        producer = Producer(channel, exchange=exchange, auto_declare=False)
        while True:
            with engine.connect() as db:
                rows = db.execute(pending_rows).all()
            if not rows:
                for _ in listener.notifies(timeout=0.5, stop_after=1):
                    pass
                continue
            for row in rows:
                producer.publish(
                    row.payload.encode(),
                    routing_key=key(row),
                    content_type="application/json",
                    delivery_mode=2,
                )
                tag += 1
                pending.add(tag)
            while pending:
                conn.drain_events(timeout=10)
            with engine.begin() as db:
                db.execute(MARK, {"ids": [row.id for row in rows]})


def consumer(url_b: str, broker: str, exchange_name: str) -> None:
    from kombu import Connection, Consumer, Exchange, Queue

    engine = create_engine(url_b)
    exchange = Exchange(exchange_name, type="topic", durable=True)
    with Connection(broker) as conn:
        channel = conn.channel()
        queue = Queue(
            f"{exchange_name}.q",
            exchange=exchange,
            routing_key="op",
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )(channel)
        queue.declare()
        channel.basic_qos(0, 50, False)

        def on_message(message: Any) -> None:
            body = json.loads(message.body)
            with engine.begin() as db:
                db.execute(INBOX, {"i": body["id"]})
                db.execute(APPLY, {"a": body["amount"]})
            message.ack()

        with Consumer(channel, queues=[queue], on_message=on_message):
            while True:
                with contextlib.suppress(TimeoutError):
                    conn.drain_events(timeout=1)


if __name__ == "__main__":
    role, url_a, url_b, broker, exchange_name, port = sys.argv[1:7]
    if role == "web":
        web(url_a, port)
    elif role == "relay":
        relay(url_a, broker, exchange_name)
    else:
        consumer(url_b, broker, exchange_name)
