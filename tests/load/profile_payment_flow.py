"""Where the CPU of the payment flow goes, per process: py-spy samples every process of a
real-mode suite while payments arrive at a steady rate, then prints, for each process, its
share of the samples and the libraries and functions that take them (own time, ranked).
Only threads holding the GIL are sampled (``--gil``): Python's own CPU, not waits on the
database or the broker (those show as PostgreSQL's and RabbitMQ's CPU in the bench).

Needs py-spy (`.venv/bin/pip install py-spy`) and permission to trace the suite's processes
(same user, ptrace allowed). Run: `.venv/bin/python tests/load/profile_payment_flow.py
[--rate 40] [--seconds 20] [--emails]`.
"""

from __future__ import annotations

import argparse
import collections
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.load.bench_payment_flow import (
    BalanceUpdates,
    Sent,
    _processes,
    paced,
    payment,
    settle,
    setup,
    start_smtp,
)
from tests.support.realmode import start_real_suite

FRAME = re.compile(r"^(?P<name>.*) \((?P<path>[^():]+)(?::\d+)?\)$")


def where(path: str) -> str:
    """The library or project module a frame's file belongs to."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for root in ("/services/", "/shared/"):
        if root in path:
            parts = path.split(root, 1)[1].removesuffix(".py").split("/")
            return f"{root.strip('/')}.{'.'.join(parts[:2])}"
    return "stdlib." + Path(path).stem


def read_samples(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = []
        for raw in stack.split(";"):
            match = FRAME.match(raw.strip())
            if match:
                frames.append((match["name"], match["path"]))
        if frames:
            stacks.append((frames, int(count)))
    return stacks


def report(label: str, stacks: list[tuple[list[tuple[str, str]], int]], grand: int) -> None:
    total = sum(count for _, count in stacks)
    by_lib: collections.Counter[str] = collections.Counter()
    by_func: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    for frames, count in stacks:
        name, path = frames[-1]
        by_lib[where(path)] += count
        by_func[f"{name} ({where(path)})"] += count
        seen = set()
        for name, path in frames:  # inclusive time of the project's own functions
            if ("/services/" in path or "/shared/" in path) and name not in seen:
                seen.add(name)
                ours[f"{where(path)}.{name}"] += count
    print(f"{label}: {total / max(grand, 1):.0%} of all samples")
    print(
        "  own time by library: "
        + ", ".join(f"{k} {v / total:.0%}" for k, v in by_lib.most_common(8))
    )
    print("  own time by function:")
    for key, value in by_func.most_common(6):
        print(f"    {value / total:4.0%}  {key}")
    print("  project functions, time inside them (inclusive):")
    for key, value in ours.most_common(8):
        print(f"    {value / total:4.0%}  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--emails", action="store_true", help="the realistic variant")
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw stacks here, one file per pid")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    smtp, env = None, {}
    if args.emails:
        smtp, url = start_smtp()
        env["TAMEIO_SMTP_URL"] = url
    suite = start_real_suite(env=env)
    out = args.raw or Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    try:
        customers = setup(suite.base, args.customers, args.emails)
        updates = BalanceUpdates(suite.exchange)
        updates.start()
        processes = {
            pid: label
            for pid, label in _processes(suite.process.pid).items()
            if label not in {"postgresql", "rabbitmq"} and "load generator" not in label
        }
        spies = [
            subprocess.Popen(
                [
                    *(spy, "record", "--pid", str(pid), "--duration", str(int(args.seconds))),
                    *("--rate", "100", "--format", "raw", "--nonblocking", "--gil"),
                    "--full-filenames",
                    *("--output", str(out / f"{label.replace(' ', '-')}.{pid}.txt")),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid, label in processes.items()
        ]
        time.sleep(1)
        rng = random.Random(1)
        sent = paced(suite.base, lambda _n: payment(rng.choice(customers)), args.rate, args.seconds)
        for process in spies:
            process.wait(60)
        settle(suite, updates, sent if sent.accepted else Sent())
        updates.stop.set()
        merged: dict[str, list[tuple[list[tuple[str, str]], int]]] = collections.defaultdict(list)
        for pid, label in processes.items():
            path = out / f"{label.replace(' ', '-')}.{pid}.txt"
            if path.exists():
                merged[label] += read_samples(path)
        grand = sum(count for stacks in merged.values() for _, count in stacks)
        print(
            f"{len(sent.accepted)} payments at {args.rate:g}/s for {args.seconds:g} s "
            f"({sent.refused} refused); {grand} samples at 100 Hz"
        )
        ranked = sorted(merged.items(), key=lambda kv: -sum(c for _, c in kv[1]))
        for label, stacks in ranked:
            if stacks:
                report(label, stacks, grand)
    finally:
        suite.stop()
        if smtp is not None:
            smtp.kill()


if __name__ == "__main__":
    main()
