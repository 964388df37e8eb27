"""Customers through the gateway in real mode: throughput, event latency, overload.

Prints:
- the broker's own latency (pika publish -> pika consume, persistent messages) p50/p99;
- event latency at a paced load: commit (the envelope's occurred_at) -> delivery at an
  outside pika subscriber, p50/p99, and what the outbox + relay add over the broker;
- customers created per second when pushed past saturation for N seconds, whether every
  created customer's event arrived, and how long the backlog took to drain after the load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import threading
import time
from pathlib import Path

import pika
import urllib3
from sqlalchemy import create_engine, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.load.common import percentile
from tests.support.realmode import BROKER, TOKEN, start_real_suite
from tests.support.subscriber import pika_url


class Arrivals(threading.Thread):
    """Records when each event arrives at an outside subscriber (its own connection)."""

    def __init__(self, exchange: str, binding: str = "customers.customer.created") -> None:
        super().__init__(daemon=True)
        self.connection = pika.BlockingConnection(pika.URLParameters(pika_url(BROKER)))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.queue_bind(self.queue, exchange, routing_key=binding)
        self.latencies: dict[str, float] = {}
        self.subjects: set[str] = set()
        self.count = 0
        self.stop = threading.Event()

    def run(self) -> None:
        for method, _props, body in self.channel.consume(
            self.queue, inactivity_timeout=0.2, auto_ack=True
        ):
            if self.stop.is_set():
                break
            if method is None:
                continue
            now = dt.datetime.now(dt.UTC)
            envelope = json.loads(body)
            committed = dt.datetime.fromisoformat(envelope["occurred_at"].replace("Z", "+00:00"))
            self.latencies.setdefault(envelope["id"], (now - committed).total_seconds() * 1000)
            self.subjects.add(envelope["subject"])
            self.count += 1
        self.connection.close()


def broker_latency(samples: int = 500) -> list[float]:
    """pika -> RabbitMQ -> pika for persistent messages, the floor any relay adds to."""
    conn = pika.BlockingConnection(pika.URLParameters(pika_url(BROKER)))
    channel = conn.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    latencies = []
    for _ in range(samples):
        sent = time.perf_counter()
        channel.basic_publish("", queue, b"{}", pika.BasicProperties(delivery_mode=2))
        while True:
            method, _p, _b = channel.basic_get(queue, auto_ack=True)
            if method is not None:
                break
        latencies.append((time.perf_counter() - sent) * 1000)
        time.sleep(0.002)
    conn.close()
    return latencies


def create(http: urllib3.PoolManager, base: str, name: str) -> str | None:
    answer = http.request(
        "POST",
        f"{base}/api/customers/customers",
        json={"name": name},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
        retries=False,
    )
    return answer.json()["id"] if answer.status == 201 else None


def paced(base: str, rate: float, seconds: float) -> list[str]:
    http = urllib3.PoolManager(maxsize=4)
    created = []
    interval = 1.0 / rate
    next_at = time.perf_counter()
    end = next_at + seconds
    while next_at < end:
        if (cid := create(http, base, f"Paced {len(created)}")) is not None:
            created.append(cid)
        next_at += interval
        time.sleep(max(next_at - time.perf_counter(), 0))
    return created


def overload(base: str, seconds: float, threads: int) -> tuple[list[str], int]:
    created: list[str] = []
    failures = [0]
    lock = threading.Lock()
    end = time.perf_counter() + seconds
    http = urllib3.PoolManager(maxsize=threads)

    def hammer(n: int) -> None:
        i = 0
        while time.perf_counter() < end:
            try:
                cid = create(http, base, f"Load {n}-{i}")
            except urllib3.exceptions.HTTPError:
                cid = None
            with lock:
                if cid:
                    created.append(cid)
                else:
                    failures[0] += 1
            i += 1

    workers = [threading.Thread(target=hammer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return created, failures[0]


def count_rows(url: str, query: str) -> int:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        value = conn.execute(text(query)).scalar_one()
    engine.dispose()
    return int(value)


def outbox_backlog(url: str) -> int:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        backlog = conn.execute(
            text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        ).scalar_one()
    engine.dispose()
    return int(backlog)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--paced-rate", type=float, default=20.0, help="requests/s for the latency phase"
    )
    parser.add_argument("--paced-seconds", type=float, default=15.0)
    parser.add_argument("--overload-seconds", type=float, default=20.0)
    parser.add_argument(
        "--threads", type=int, default=24, help="concurrent clients in the overload"
    )
    args = parser.parse_args()

    print("broker's own latency (pika -> RabbitMQ -> pika, persistent)...", flush=True)
    floor = broker_latency()
    print(f"  p50 {percentile(floor, 0.5):.2f} ms   p99 {percentile(floor, 0.99):.2f} ms")

    print("starting the suite in real mode...", flush=True)
    suite = start_real_suite()
    try:
        arrivals = Arrivals(suite.exchange)
        arrivals.start()

        print(
            f"paced load: {args.paced_rate:g} customers/s for {args.paced_seconds:g} s", flush=True
        )
        created = paced(suite.base, args.paced_rate, args.paced_seconds)
        deadline = time.monotonic() + 30
        while len(arrivals.subjects & set(created)) < len(created) and time.monotonic() < deadline:
            time.sleep(0.1)
        latencies = list(arrivals.latencies.values())
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(f"  created {len(created)}, events received {len(arrivals.subjects & set(created))}")
        print(f"  event latency commit -> subscriber: p50 {p50:.1f} ms   p99 {p99:.1f} ms")
        print(
            f"  relay adds over the broker's own latency: p50 {p50 - percentile(floor, 0.5):.1f} ms"
        )

        print(
            f"overload: {args.threads} clients as fast as they can for {args.overload_seconds:g} s",
            flush=True,
        )
        started = time.perf_counter()
        loaded, failures = overload(suite.base, args.overload_seconds, args.threads)
        elapsed = time.perf_counter() - started
        backlog_at_stop = outbox_backlog(suite.database_url("customers"))
        print(
            f"  created {len(loaded)} ({len(loaded) / elapsed:.0f} customers/s), "
            f"failed requests {failures}, outbox backlog when the load stopped {backlog_at_stop}"
        )
        stop = time.perf_counter()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if (
                len(arrivals.subjects & set(loaded)) == len(loaded)
                and outbox_backlog(suite.database_url("customers")) == 0
            ):
                break
            time.sleep(0.2)
        drained = time.perf_counter() - stop
        missing = len(set(loaded) - arrivals.subjects)
        print(f"  outbox drained {drained:.1f} s after the load stopped; events missing: {missing}")
        expected = count_rows(suite.database_url("customers"), "SELECT count(*) FROM outbox")
        reporting = suite.database_url("reporting")
        while time.monotonic() < deadline:
            if count_rows(reporting, "SELECT count(*) FROM event_log") >= expected:
                break
            time.sleep(0.2)
        logged = count_rows(reporting, "SELECT count(*) FROM event_log")
        print(
            f"  consumers: reporting logged {logged} of {expected} events, "
            f"{time.perf_counter() - stop:.1f} s after the load stopped"
        )
        arrivals.stop.set()
    finally:
        suite.stop()


if __name__ == "__main__":
    main()
