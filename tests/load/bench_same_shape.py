"""What the payment flow's shape alone costs, for several shapes: the same-shape ceiling
(`same_shape.py`: two HTTP hops, then ``publishes`` publishes and ``deliveries`` deliveries
per operation, each delivery one insert with an inbox row in its own database, quorum
queues, outbox relays with confirms) at the flow's shape per payment and at smaller ones.

At its ceiling the machine's cores are all busy, so cores / rate bounds the CPU one
operation of that shape costs with nothing else in it: the floor under the flow's CPU per
payment for as many publishes and deliveries. Run: `.venv/bin/python
tests/load/bench_same_shape.py [--seconds 15] [--shapes 8x15,5x9,3x5,2x3,1x1]`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.load.same_shape import measure_same_shape
from tests.support.realmode import BROKER, DATABASE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--shapes", default="8x15,5x9,3x5,2x3,1x1", help="PUBLISHESxDELIVERIES,...")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    for shape in args.shapes.split(","):
        publishes, deliveries = (int(n) for n in shape.split("x"))
        rate = measure_same_shape(
            DATABASE, BROKER, args.seconds, args.threads, publishes, deliveries
        )
        print(
            f"{publishes} publishes, {deliveries:>2} deliveries: {rate:6.1f} operations/s; "
            f"{cores} cores / rate = {cores * 1000 / rate:.1f} ms of CPU per operation at most",
            flush=True,
        )


if __name__ == "__main__":
    main()
