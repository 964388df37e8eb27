"""Reporting on PostgreSQL: aging as of a date over 10,000 customers and 200,000 invoices
(target p50 < 300 ms), against the same figures computed naively from the raw documents
(every invoice and movement read into Python)."""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

from sqlalchemy import insert, make_url, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from services.reporting.app import SERVICE
from services.reporting.models import Movement, ReportCustomer, ReportInvoice
from services.reporting.reports import aged_dues
from shared.config import load_settings
from tests.load.common import drop_database, percentile
from tests.support.realmode import DATABASE


def naive_aging(session, as_of: dt.date) -> dict[tuple[str, str], dict[str, int]]:
    """Every invoice and every movement into Python, then the buckets."""
    settled: dict[str, int] = defaultdict(int)
    for movement in session.execute(select(Movement)).scalars():
        if movement.kind in ("applied", "unapplied") and movement.date <= as_of:
            settled[str(movement.invoice_id)] += movement.amount_minor
    result: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for invoice in session.execute(select(ReportInvoice)).scalars():
        if invoice.issue_date > as_of or (invoice.void_on and invoice.void_on <= as_of):
            continue
        due = invoice.total_minor + settled[invoice.id]
        late = (as_of - invoice.due_date).days
        name = (
            "current"
            if late <= 0
            else "d1_30"
            if late <= 30
            else "d31_60"
            if late <= 60
            else "d61_90"
            if late <= 90
            else "d90_plus"
        )
        result[(invoice.customer_id, invoice.currency)][name] += due
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(8)
    name = f"tameio_benchreporting_{uuid.uuid4().hex[:8]}"
    url = make_url(DATABASE).set(database=name).render_as_string(hide_password=False)
    settings = load_settings(
        "reporting", {"TAMEIO_REPORTING_DATABASE_URL": url, "TAMEIO_INTERNAL_SECRET": "x" * 32}
    )
    SERVICE.migrate(settings)
    db = SERVICE.database(settings)
    try:
        customers = [str(uuid.uuid4()) for _ in range(args.customers)]
        start = dt.date(2025, 1, 1)
        with db.engine.begin() as conn:
            conn.execute(
                insert(ReportCustomer.__table__),
                [
                    {"id": c, "name": f"C{n}", "currency": "EUR", "sequence": 1}
                    for n, c in enumerate(customers)
                ],
            )
            for chunk in range(0, args.invoices, 20_000):
                invoices, moves = [], []
                for n in range(chunk, min(chunk + 20_000, args.invoices)):
                    issued = start + dt.timedelta(days=rng.randrange(690))
                    total = rng.randint(1_000, 500_000)
                    invoice_id, customer = str(uuid.uuid4()), customers[n % args.customers]
                    invoices.append(
                        {
                            "id": invoice_id,
                            "customer_id": customer,
                            "number": f"INV-{n}",
                            "currency": "EUR",
                            "issue_date": issued,
                            "due_date": issued + dt.timedelta(days=30),
                            "net_minor": total,
                            "tax_minor": 0,
                            "total_minor": total,
                            "void_on": None,
                        }
                    )
                    paid = rng.choice([0, total // 2, total])
                    if paid:
                        moves.append(
                            {
                                "event_id": str(uuid.uuid4()),
                                "customer_id": customer,
                                "invoice_id": invoice_id,
                                "kind": "applied",
                                "date": issued + dt.timedelta(days=rng.randrange(60)),
                                "amount_minor": -paid,
                                "currency": "EUR",
                            }
                        )
                conn.execute(insert(ReportInvoice.__table__), invoices)
                if moves:
                    conn.execute(insert(Movement.__table__), moves)
            conn.execute(text("ANALYZE"))
        print(f"{args.customers} customers, {args.invoices} invoices")
        as_of = dt.date(2026, 6, 30)
        with db.unit_of_work() as uow:
            fast = aged_dues(uow, as_of, "EUR")
            timings = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                aged_dues(uow, as_of, "EUR")
                timings.append((time.perf_counter() - t0) * 1000)
            print(
                f"aging as of {as_of} (SQL, grouped): p50 {percentile(timings, 0.5):.0f} ms   "
                f"p99 {percentile(timings, 0.99):.0f} ms   ({len(fast)} customers owing)"
            )
            t0 = time.perf_counter()
            slow = naive_aging(uow.session, as_of)
            naive_ms = (time.perf_counter() - t0) * 1000

            def nonzero(buckets: dict[str, int]) -> dict[str, int]:
                return {k: v for k, v in buckets.items() if v}

            same = set(fast) == {k for k, v in slow.items() if nonzero(v)} and all(
                nonzero(dict(slow[key])) == nonzero(fast[key]) for key in fast
            )
            print(f"naive (all rows into Python): {naive_ms:.0f} ms; same figures: {same}")
    finally:
        db.dispose()
        drop_database(DATABASE, name)


if __name__ == "__main__":
    main()
