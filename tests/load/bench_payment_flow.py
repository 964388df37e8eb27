"""The central flow in real mode: payments through the gateway, applied by billing, balances
announced, every consumer running (payments, reporting and the replicas).

Prints, in one run on one machine:
- the ceiling: a minimal pipeline with the same libraries (tests/load/ceiling.py);
- the sustained rate of payments whose billing.account.balance_changed reached an outside
  subscriber within the overload window, and its ratio to the ceiling (measured before and
  after the flow; the higher counts);
- the highest paced rate the whole flow keeps up with (a second after the last request every
  balance has arrived and no service queue holds a message), found by trials up and down
  from the rate over the whole overload episode;
- latency from HTTP 201 to the balance update (p50/p99) at one third of the sustained rate;
- whether anything was lost, and how long the backlog took to drain after the overload.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pika
import urllib3
from sqlalchemy import create_engine, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared.config import BUSINESS_SERVICES
from tests.load.ceiling import measure_ceiling
from tests.load.common import percentile
from tests.support.realmode import BROKER, DATABASE, TOKEN, RealSuite, start_real_suite
from tests.support.subscriber import pika_url

AUTH = {"Authorization": f"Bearer {TOKEN}"}
RESEND = urllib3.Retry(total=2, connect=2, read=2, status=0, allowed_methods=None, redirect=False)


class BalanceUpdates(threading.Thread):
    """When each request's billing.account.balance_changed arrived (by correlation id)."""

    def __init__(self, exchange: str) -> None:
        super().__init__(daemon=True)
        self.connection = pika.BlockingConnection(pika.URLParameters(pika_url(BROKER)))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.queue_bind(self.queue, exchange, routing_key="billing.account.balance_changed")
        self.arrived: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        for method, _props, body in self.channel.consume(
            self.queue, inactivity_timeout=0.2, auto_ack=True
        ):
            if self.stop.is_set():
                break
            if method is not None:
                self.arrived.setdefault(json.loads(body)["correlation_id"], time.monotonic())
        self.connection.close()


def post(
    http: urllib3.PoolManager, url: str, body: dict[str, object], request_id: str | None = None
) -> dict:
    # A kept-alive connection the server has just closed fails the request before it is
    # read; the Idempotency-Key makes resending it safe whatever happened.
    headers = {
        **AUTH,
        "Idempotency-Key": str(uuid.uuid4()),
        **({"X-Request-ID": request_id} if request_id else {}),
    }
    answer = http.request("POST", url, json=body, headers=headers, timeout=30, retries=RESEND)
    if answer.status != 201:
        raise RuntimeError(f"{url}: {answer.status} {answer.data[:300]!r}")
    return dict(answer.json())


def setup(base: str, customers: int) -> list[str]:
    http = urllib3.PoolManager()
    post(
        http,
        f"{base}/api/contracts/items",
        {"sku": "FEE", "name": "Fee", "unit_price": "100.00", "tax_code": "zero"},
    )
    ids = [
        post(http, f"{base}/api/customers/customers", {"name": f"Payer {n}"})["id"]
        for n in range(customers)
    ]
    time.sleep(2)  # replicas
    for cid in ids:
        for _ in range(5):
            post(
                http,
                f"{base}/api/billing/invoices",
                {"customer_id": cid, "lines": [{"sku": "FEE", "quantity": 1}]},
            )
    time.sleep(2)
    return ids


def pay(http: urllib3.PoolManager, base: str, customer_id: str, sent: dict[str, float]) -> None:
    request_id = str(uuid.uuid4())
    post(
        http,
        f"{base}/api/payments/payments",
        {
            "customer_id": customer_id,
            "amount": "7.50",
            "currency": "EUR",
            "method": "bank_transfer",
        },
        request_id,
    )
    sent[request_id] = time.monotonic()


def overload(base: str, customers: list[str], seconds: float, threads: int) -> dict[str, float]:
    sent: dict[str, float] = {}
    http = urllib3.PoolManager(maxsize=threads)
    stop_at = time.monotonic() + seconds

    def hammer() -> None:
        rng = random.Random()
        while time.monotonic() < stop_at:
            pay(http, base, rng.choice(customers), sent)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sent


def paced(
    base: str, customers: list[str], rate: float, seconds: float, senders: int = 4
) -> dict[str, float]:
    """Payments at ``rate`` per second for ``seconds``, from ``senders`` threads each keeping
    its own schedule (one thread alone could not keep a rate above 1 / request time)."""
    sent: dict[str, float] = {}
    http = urllib3.PoolManager(maxsize=senders)
    began = time.monotonic()
    stop_at = began + seconds

    def send(index: int) -> None:
        rng = random.Random(index)
        next_at = began + index / rate
        while next_at < stop_at:
            time.sleep(max(0.0, next_at - time.monotonic()))
            pay(http, base, rng.choice(customers), sent)
            next_at += senders / rate

    threads = [threading.Thread(target=send, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


def backlog(prefix: str) -> int:
    """Messages waiting in the suite's service queues (what any consumer has yet to take)."""
    connection = pika.BlockingConnection(pika.URLParameters(pika_url(BROKER)))
    try:
        channel = connection.channel()
        return sum(
            channel.queue_declare(f"{prefix}{service}.events", passive=True).method.message_count
            for service in BUSINESS_SERVICES
        )
    finally:
        connection.close()


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:  # gone
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes(root: int) -> dict[int, str]:
    """The suite's processes (by role), PostgreSQL's and RabbitMQ's, and this one."""
    listing = subprocess.run(
        ["ps", "-e", "-o", "pid=,ppid=,comm=,args="], capture_output=True, text=True, check=True
    ).stdout
    children: dict[int, list[tuple[int, str, str]]] = {}
    found = {os.getpid(): "load generator (this script)"}
    for line in listing.splitlines():
        pid, ppid, comm, args = [*line.split(None, 3), ""][:4]
        children.setdefault(int(ppid), []).append((int(pid), comm, args))
        if comm == "postgres":
            found[int(pid)] = "postgresql"
        elif comm == "beam.smp":
            found[int(pid)] = "rabbitmq"
    stack = [root]
    while stack:
        for pid, _comm, args in children.get(stack.pop(), []):
            words = args.split()
            if "services.cli" in words:
                at = words.index("services.cli")
                role, service = words[at + 1], words[at + 2]
                found[pid] = f"{service} {'web' if role == 'serve' else role}"
            stack.append(pid)
    return found


class CpuMeter:
    """CPU seconds each part of the suite used between start() and stop()."""

    def __init__(self, suite_pid: int) -> None:
        self.suite_pid = suite_pid
        self.used: dict[str, float] = {}

    def start(self) -> None:
        self.processes = _processes(self.suite_pid)
        self.before = {pid: _cpu_seconds(pid) for pid in self.processes}

    def stop(self) -> dict[str, float]:
        self.used = {}
        for pid, label in self.processes.items():
            spent = _cpu_seconds(pid) - self.before[pid]
            self.used[label] = self.used.get(label, 0.0) + max(spent, 0.0)
        return self.used


def messages_per_payment(suite: RealSuite, payments: int) -> tuple[float, float]:
    """Events published and deliveries handled per payment, counted in the services'
    outboxes and inboxes (setup included, so slightly above the flow's own)."""
    published = delivered = 0
    for service in BUSINESS_SERVICES:
        engine = create_engine(suite.database_url(service), poolclass=pool.NullPool)
        with engine.connect() as conn:
            published += conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
            delivered += conn.execute(text("SELECT count(*) FROM inbox")).scalar_one()
        engine.dispose()
    return published / payments, delivered / payments


def keeps_up(
    base: str,
    prefix: str,
    customers: list[str],
    updates: BalanceUpdates,
    rate: float,
    seconds: float,
    meter: CpuMeter | None = None,
) -> bool:
    """Whether, a second after ``seconds`` at ``rate``, every balance update had arrived and
    no consumer had a backlog: the whole flow kept pace (over 20 s, a rate 5 % above what it
    can do leaves a second's backlog). ``meter`` measures the CPU this took."""
    if meter:
        meter.start()
    sent = paced(base, customers, rate, seconds)
    time.sleep(1.0)
    kept = set(sent) <= set(updates.arrived) and backlog(prefix) == 0
    if meter:
        meter.stop()
    deadline = time.monotonic() + 180  # let every consumer catch up before the next trial
    while time.monotonic() < deadline and (
        not set(sent) <= set(updates.arrived) or backlog(prefix) > 0
    ):
        time.sleep(0.5)
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--trials", type=int, default=6, help="paced rates tried")
    args = parser.parse_args()

    print("ceiling (minimal pipeline, same libraries)...", flush=True)
    ceilings = [measure_ceiling(DATABASE, BROKER, args.seconds, args.threads)]
    print(f"  {ceilings[0]:.1f} operations/s end to end")

    print("starting the suite in real mode...", flush=True)
    suite = start_real_suite()
    try:
        customers = setup(suite.base, args.customers)
        updates = BalanceUpdates(suite.exchange)
        updates.start()

        print(f"overload: {args.threads} clients for {args.seconds:g} s", flush=True)
        started = time.monotonic()
        sent = overload(suite.base, customers, args.seconds, args.threads)
        stopped = time.monotonic()
        done_in_window = sum(1 for rid in sent if updates.arrived.get(rid, 1e18) <= stopped)
        while time.monotonic() < stopped + 300 and not set(sent) <= set(updates.arrived):
            time.sleep(0.2)
        drained = time.monotonic() - stopped
        lost = len(set(sent) - set(updates.arrived))
        accepted = len(sent) / (stopped - started)
        sustained = done_in_window / (stopped - started)
        print(
            f"  accepted {accepted:.1f} payments/s (201s); balance updated within the window "
            f"{sustained:.1f}/s"
        )
        print(
            f"  backlog drained {drained:.1f} s after the load stopped; lost: {lost}; over the "
            f"whole episode {len(sent) - lost} balances in {stopped - started + drained:.1f} s = "
            f"{(len(sent) - lost) / (stopped - started + drained):.1f}/s"
        )

        while backlog(suite.prefix) > 0:  # the overload's backlog, in every consumer
            time.sleep(0.5)
        print("highest paced rate the whole flow keeps up with (no backlog):", flush=True)
        episode = (len(sent) - lost) / (stopped - started + drained)
        trial, kept_up, cpu_at_kept = max(episode, 1.0), 0.0, {}
        meter = CpuMeter(suite.process.pid)
        for _ in range(args.trials):
            kept = keeps_up(
                suite.base, suite.prefix, customers, updates, trial, args.seconds, meter
            )
            print(f"  {trial:.1f} payments/s: {'kept up' if kept else 'fell behind'}", flush=True)
            if kept and trial > kept_up:
                kept_up, cpu_at_kept = trial, dict(meter.used)
            trial *= 1.15 if kept else 0.85
        if cpu_at_kept:
            payments = kept_up * args.seconds
            total = sum(cpu_at_kept.values())
            print(
                f"CPU per payment at {kept_up:.1f}/s, by process ({total / (args.seconds + 1):.2f}"
                f" of {os.cpu_count()} cores busy): {total * 1000 / payments:.1f} ms in all"
            )
            for label, spent in sorted(cpu_at_kept.items(), key=lambda kv: -kv[1]):
                if spent * 1000 / payments >= 0.1:
                    print(f"  {label:<30} {spent * 1000 / payments:5.1f} ms  {spent / total:4.0%}")
        rate = max(sustained / 3, 1.0)
        print(
            f"paced at a third of the sustained rate: {rate:.1f} payments/s for {args.seconds:g} s",
            flush=True,
        )
        sent = paced(suite.base, customers, rate, args.seconds)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not set(sent) <= set(updates.arrived):
            time.sleep(0.1)
        latencies = [
            (updates.arrived[rid] - at) * 1000 for rid, at in sent.items() if rid in updates.arrived
        ]
        print(
            f"  201 -> balance updated: p50 {percentile(latencies, 0.5):.0f} ms   "
            f"p99 {percentile(latencies, 0.99):.0f} ms   (n={len(latencies)} of {len(sent)})"
        )
        updates.stop.set()
        published, delivered = messages_per_payment(suite, len(updates.arrived))
        print(
            f"per payment: {published:.1f} events published, {delivered:.1f} deliveries handled "
            "(the ceiling's operation: 1 and 1)"
        )
    finally:
        suite.stop()

    print("ceiling again (the machine's speed varies between runs; the higher one counts)...")
    ceilings.append(measure_ceiling(DATABASE, BROKER, args.seconds, args.threads))
    print(f"  {ceilings[1]:.1f} operations/s end to end")
    print(
        f"ratio of the flow's sustained rate ({sustained:.1f}/s) to the ceiling "
        f"({max(ceilings):.1f}/s): {sustained / max(ceilings):.0%}; of the highest rate it kept "
        f"up with ({kept_up:.1f}/s): {kept_up / max(ceilings):.0%}"
    )
    print(
        f"messages through the broker per second: the flow at {kept_up:.1f}/s moves "
        f"{kept_up * (published + delivered):.0f} (published + delivered), the ceiling "
        f"{2 * max(ceilings):.0f}"
    )


if __name__ == "__main__":
    main()
