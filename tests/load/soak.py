"""Soak: the whole payment flow in real mode at a steady rate for a long time (10 minutes by
default), to show that nothing accumulates.

Prints, once a minute and at the start and the end: messages waiting in the service queues,
events waiting in the outboxes, and the resident memory of every process of the suite (and
of PostgreSQL and RabbitMQ). At the end, each process's memory growth from the first
reading after warm-up to the last; the targets are no growth in queue depth or backlog and
less than 10 % memory growth per process.

Run: `.venv/bin/python tests/load/soak.py [--rate 30] [--minutes 10] [--customers 20]`
(the default rate is about half the sustained rate `bench_payment_flow.py` measured).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared.config import BUSINESS_SERVICES
from tests.load.bench_payment_flow import _processes, backlog, paced, setup
from tests.support.realmode import RealSuite, start_real_suite


def resident_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def outbox_backlog(suite: RealSuite) -> int:
    waiting = 0
    for service in BUSINESS_SERVICES:
        engine = create_engine(suite.database_url(service), poolclass=pool.NullPool)
        try:
            with engine.connect() as conn:
                waiting += int(
                    conn.execute(
                        text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    ).scalar_one()
                )
        finally:
            engine.dispose()
    return waiting


def memory_by_role(suite: RealSuite) -> dict[str, float]:
    """Resident MiB per role (processes of one role, e.g. PostgreSQL's, added up)."""
    used: dict[str, float] = {}
    for pid, label in _processes(suite.process.pid).items():
        used[label] = used.get(label, 0.0) + resident_mib(pid)
    return used


def reading(suite: RealSuite, label: str) -> dict[str, float]:
    memory = memory_by_role(suite)
    queued, waiting = backlog(suite.prefix), outbox_backlog(suite)
    print(
        f"{label:>10}: queues {queued:5d}  outboxes {waiting:5d}  "
        + "  ".join(f"{role} {mib:.0f}" for role, mib in sorted(memory.items()) if "web" in role)
        + " (MiB)",
        flush=True,
    )
    return {"queues": queued, "outboxes": waiting, **memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=30.0, help="payments per second")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--warm-up", type=float, default=30.0, help="seconds before the start")
    args = parser.parse_args()
    # Stopped early (Ctrl-C or SIGTERM): the suite is still stopped and its databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    print("starting the suite in real mode...", flush=True)
    suite = start_real_suite()
    try:
        customers = setup(suite.base, args.customers)
        seconds = args.minutes * 60 + args.warm_up
        load = threading.Thread(
            target=paced, args=(suite.base, customers, args.rate, seconds), daemon=True
        )
        load.start()
        print(f"{args.rate:g} payments/s for {args.minutes:g} min after {args.warm_up:g} s")
        time.sleep(args.warm_up)
        first = reading(suite, "start")
        began = time.monotonic()
        while load.is_alive():
            load.join(timeout=60.0)
            if load.is_alive():
                reading(suite, f"{(time.monotonic() - began) / 60:.0f} min")
        last = reading(suite, "end")
        print("\nmemory per process (MiB), first reading -> last:")
        for role in sorted(first):
            if role in ("queues", "outboxes"):
                continue
            before, after = first[role], last.get(role, 0.0)
            growth = (after - before) / before * 100 if before else 0.0
            print(f"  {role:<32} {before:8.1f} -> {after:8.1f}  {growth:+6.1f} %")
        print(
            f"queues {first['queues']:.0f} -> {last['queues']:.0f}, "
            f"outboxes {first['outboxes']:.0f} -> {last['outboxes']:.0f}"
        )
    finally:
        suite.stop()


if __name__ == "__main__":
    main()
