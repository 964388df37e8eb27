"""Billing on PostgreSQL: payments applied per second by one worker's processor with 10,000
open invoices, and account / transaction-history latency for a customer with 5,000 ledger
entries (target p99 < 50 ms)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import event, insert, make_url, text
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from services.billing.app import SERVICE
from services.billing.models import Account, Invoice, LedgerEntry
from shared.clock import utcnow
from shared.config import load_settings
from shared.messaging.consumer import EventProcessor, Outcome
from shared.web.auth import IDENTITY_HEADER, Identity, sign_identity
from tests.load.common import drop_database, percentile
from tests.support.events import body_of, customer_data, envelope
from tests.support.realmode import DATABASE

SECRET = "benchmark-internal-secret-000"


def invoice_row(customer_id: str, n: int, total: int, issued: dt.date) -> dict[str, object]:
    now = utcnow()
    return {
        "id": uuid.uuid4(),
        "number": f"INV-2026-{n:06d}",
        "customer_id": customer_id,
        "status": "open",
        "currency": "EUR",
        "issue_date": issued,
        "due_date": issued + dt.timedelta(days=30),
        "bill_to": {"name": "Bench"},
        "lines": [],
        "requested_lines": [],
        "subtotal_minor": total,
        "tax_minor": 0,
        "total_minor": total,
        "paid_minor": 0,
        "credited_minor": 0,
        "overdue_reported": False,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def ledger_row(customer_id: str, day: dt.date, kind: str, amount: int) -> dict[str, object]:
    return {
        "customer_id": customer_id,
        "date": day,
        "type": kind,
        "reference": kind,
        "amount_minor": amount,
        "created_at": utcnow(),
    }


def backend_cpu(engine: Engine, database: str) -> float:
    """CPU seconds so far of the PostgreSQL backends serving ``database`` (this machine's)."""
    with engine.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": database}
        ).scalars()
        total = 0.0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:  # gone, or another machine's
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--batch", type=int, default=1, help="messages per transaction, as a busy worker takes them"
    )
    args = parser.parse_args()
    rng = random.Random(5)
    name = f"tameio_benchbilling_{uuid.uuid4().hex[:8]}"
    url = make_url(DATABASE).set(database=name).render_as_string(hide_password=False)
    settings = load_settings(
        "billing", {"TAMEIO_BILLING_DATABASE_URL": url, "TAMEIO_INTERNAL_SECRET": SECRET}
    )
    SERVICE.migrate(settings)
    db = SERVICE.database(settings)
    processor = EventProcessor(db, SERVICE.handlers)
    try:
        customer_ids = [str(uuid.uuid4()) for _ in range(args.customers)]
        for cid in customer_ids:
            processor.process(
                body_of(envelope("customers.customer.created", cid, 1, customer_data(cid)))
            )
        start = dt.date(2026, 1, 1)
        invoices = [
            invoice_row(
                customer_ids[n % args.customers],
                n + 1,
                rng.randint(1000, 50000),
                start + dt.timedelta(days=n % 300),
            )
            for n in range(args.invoices)
        ]
        with db.engine.begin() as conn:
            conn.execute(
                insert(Account.__table__),
                [
                    {
                        "customer_id": cid,
                        "currency": "EUR",
                        "unapplied_credit_minor": 0,
                        "updated_at": utcnow(),
                    }
                    for cid in customer_ids
                ],
            )
            conn.execute(insert(Invoice.__table__), invoices)
            conn.execute(
                insert(LedgerEntry.__table__),
                [
                    ledger_row(i["customer_id"], i["issue_date"], "invoice", i["total_minor"])
                    for i in invoices
                ],
            )
            conn.execute(text("ANALYZE"))
        print(f"{args.customers} customers, {args.invoices} open invoices")

        bodies = []
        for n in range(args.payments):
            invoice = invoices[rng.randrange(len(invoices))]
            pid = str(uuid.uuid4())
            amount = rng.randint(100, 30000)
            bodies.append(
                body_of(
                    envelope(
                        "payments.payment.received",
                        pid,
                        1,
                        {
                            "id": pid,
                            "number": f"P-{n:06d}",
                            "customer_id": invoice["customer_id"],
                            "amount": f"{amount / 100:.2f}",
                            "currency": "EUR",
                            "method": "bank_transfer",
                            "reference": None,
                            "received_on": "2026-11-01",
                            "date": "2026-11-01",
                            "allocations": [
                                {"invoice_id": str(invoice["id"]), "amount": f"{amount / 100:.2f}"}
                            ],
                            "invoice_id": None,
                            "status": "received",
                        },
                        source="payments",
                    )
                )
            )

        def apply_all() -> list[Outcome]:
            return [
                outcome
                for at in range(0, len(bodies), args.batch)
                for outcome in processor.process_batch(bodies[at : at + args.batch])
            ]

        statements = [0]

        @event.listens_for(db.engine, "before_cursor_execute")
        def count(*_args: object) -> None:
            statements[0] += 1

        pg_before = backend_cpu(db.engine, name)
        statements[0] = 0
        cpu_started = time.process_time()
        started = time.perf_counter()
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile(time.process_time)  # CPU, not waits for the database
            outcomes = profiler.runcall(apply_all)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        else:
            outcomes = apply_all()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        executed = statements[0]
        pg_cpu = backend_cpu(db.engine, name) - pg_before
        event.remove(db.engine, "before_cursor_execute", count)
        applied = sum(1 for outcome in outcomes if outcome is Outcome.APPLIED)
        print(
            f"payments applied: {applied} in {elapsed:.1f} s = {applied / elapsed:.0f} per second "
            f"(one processor, sequential, {args.batch} per transaction, each with its events "
            "and balance)"
        )
        print(
            f"  per payment: {cpu / applied * 1000:.2f} ms CPU in this process, "
            f"{pg_cpu / applied * 1000:.2f} ms in PostgreSQL, "
            f"{executed / applied:.1f} statements"
        )

        heavy = str(uuid.uuid4())
        processor.process(
            body_of(envelope("customers.customer.created", heavy, 1, customer_data(heavy)))
        )
        with db.engine.begin() as conn:
            rows = []
            for n in range(2500):
                day = start + dt.timedelta(days=n % 330)
                rows.append(ledger_row(heavy, day, "invoice", 10000))
                rows.append(ledger_row(heavy, day, "payment", -9000))
            conn.execute(insert(LedgerEntry.__table__), rows)
            conn.execute(
                insert(Account.__table__),
                [
                    {
                        "customer_id": heavy,
                        "currency": "EUR",
                        "unapplied_credit_minor": 0,
                        "updated_at": utcnow(),
                    }
                ],
            )
            conn.execute(text("ANALYZE"))
        client = SERVICE.create_app(settings, db).test_client()
        headers = {IDENTITY_HEADER: sign_identity(SECRET, Identity("bench", "viewer"))}
        for path in (
            f"/accounts/{heavy}",
            f"/accounts/{heavy}/transactions",
            f"/accounts/{heavy}/transactions?from=2026-10-01&to=2026-10-31",
        ):
            latencies = []
            for _ in range(100):
                t0 = time.perf_counter()
                answer = client.get(path, headers=headers)
                latencies.append((time.perf_counter() - t0) * 1000)
                assert answer.status_code == 200
            shown = path.replace(heavy, "<5,000 entries>")
            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
            print(f"  {shown:<60} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")
    finally:
        db.dispose()
        drop_database(DATABASE, name)


if __name__ == "__main__":
    main()
