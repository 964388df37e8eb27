"""Whether the payment flow slows down as history builds up: alternates a paced window at
``--rate`` (latency and CPU per payment by process measured there) with a window at
``--fill`` payments/s that adds history, on one real-mode suite, customers without email
addresses. A flow whose cost grows with history shows a rising p50/p99 and a falling fill
rate from one phase to the next. Run: `.venv/bin/python tests/load/bench_history_drift.py
[--phases 5] [--legacy false]`."""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.load.bench_payment_flow import (
    BalanceUpdates,
    CpuMeter,
    paced,
    payment,
    print_cpu,
    print_latency,
    settle,
    setup,
)
from tests.support.realmode import start_real_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phases", type=int, default=5)
    parser.add_argument("--rate", type=float, default=30.0, help="the measured window's rate")
    parser.add_argument("--fill", type=float, default=70.0, help="the history window's rate")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--fill-seconds", type=float, default=60.0)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--legacy", choices=("true", "false"), default="true")
    args = parser.parse_args()
    suite = start_real_suite(env={"TAMEIO_LEGACY_EVENT_VERSIONS": args.legacy})
    try:
        customers = setup(suite.base, args.customers, False)
        updates = BalanceUpdates(suite.exchange)
        updates.start()
        meter = CpuMeter(suite.process.pid, {})
        rng = random.Random(3)
        paid = 0
        for phase in range(args.phases):
            print(f"phase {phase}: {paid} payments before it; {args.rate:g}/s", flush=True)
            meter.start()
            sent = paced(
                suite.base, lambda _n: payment(rng.choice(customers)), args.rate, args.seconds
            )
            time.sleep(1.0)
            used = meter.stop()
            settle(suite, updates, sent)
            print_latency(updates, sent)
            print_cpu("CPU per payment", used, max(len(sent.accepted), 1), args.seconds + 1)
            paid += len(sent.accepted)
            sent = paced(
                suite.base, lambda _n: payment(rng.choice(customers)), args.fill, args.fill_seconds
            )
            settle(suite, updates, sent)
            paid += len(sent.accepted)
            rate = len(sent.accepted) / args.fill_seconds
            print(f"  history: {len(sent.accepted)} accepted at {rate:.1f}/s", flush=True)
    finally:
        suite.stop()


if __name__ == "__main__":
    main()
