"""The consume path in-process on PostgreSQL: CPU (``time.process_time``) per event handled by
the EventProcessors of billing, payments and reporting, one message per transaction and in
batches, for the events of the payment flow as the services themselves build them.

The flow is run for real, without a broker: customers and issued invoices are fed to the
consumers that keep them (billing's invoices written as rows), payments are recorded by
payments' own command, billing applies them from payments' outbox, and what billing's
outbox then holds goes to payments and, with everything before it and a receipt
notification per payment, to reporting. Each mode starts from fresh databases.

``--save-reporting FILE`` keeps the bodies reporting consumed; ``--replay FILE`` feeds such a
file to fresh reporting databases, one message and batched, and prints a digest of the read
models and the event log, to show that a change leaves reporting's results as they were.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, make_url, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from services.billing.app import SERVICE as BILLING
from services.billing.models import Account, Invoice, LedgerEntry
from services.payments import commands as payment_commands
from services.payments.app import SERVICE as PAYMENTS
from services.reporting.app import SERVICE as REPORTING
from shared.config import load_settings
from shared.db import Database
from shared.messaging.consumer import EventProcessor, Outcome
from shared.service import ServiceDefinition
from tests.load.bench_billing import invoice_row, ledger_row
from tests.load.common import drop_database
from tests.support.events import body_of, customer_data, envelope, invoice_data
from tests.support.realmode import DATABASE

SECRET = "benchmark-internal-secret-000"
READ_MODELS = (
    "SELECT id, name, currency, sequence FROM rp_customers ORDER BY id",
    "SELECT id, customer_id, number, currency, issue_date, due_date, net_minor, tax_minor, "
    "total_minor, void_on, settled_minor, first_settled_on, last_settled_on, cleared_on "
    "FROM rp_invoices ORDER BY id",
    "SELECT event_id, customer_id, invoice_id, kind, date, amount_minor, currency, tax_minor, "
    "source_id FROM rp_movements ORDER BY event_id, kind, invoice_id",
    "SELECT customer_id, currency, date, balance_minor FROM rp_day_balances "
    "ORDER BY customer_id, currency, date",
    "SELECT * FROM rp_balances ORDER BY customer_id, currency",
    "SELECT event_id, event_type, version, source, subject, sequence, occurred_at, envelope "
    "FROM event_log ORDER BY event_id",
    "SELECT event_id, event_type FROM inbox ORDER BY event_id",
    "SELECT event_id, error FROM dead_letters ORDER BY event_id",
)


@contextmanager
def fresh_database(definition: ServiceDefinition) -> Iterator[Database]:
    name = f"tameio_benchconsume_{definition.name}_{uuid.uuid4().hex[:8]}"
    url = make_url(DATABASE).set(database=name).render_as_string(hide_password=False)
    key = f"TAMEIO_{definition.name.upper()}_DATABASE_URL"
    settings = load_settings(definition.name, {key: url, "TAMEIO_INTERNAL_SECRET": SECRET})
    definition.migrate(settings)
    db = definition.database(settings)
    try:
        yield db
    finally:
        db.dispose()
        drop_database(DATABASE, name)


class Meter:
    """CPU and wall time of one consumer over the events it was given."""

    def __init__(self, processor: EventProcessor, batch: int) -> None:
        self.processor = processor
        self.batch = batch
        self.cpu = self.wall = 0.0
        self.events = 0

    def feed(self, bodies: Sequence[str]) -> list[Outcome]:
        cpu, wall = time.process_time(), time.perf_counter()
        outcomes: list[Outcome] = []
        if self.batch == 1:
            outcomes = [self.processor.process(body) for body in bodies]
        else:
            for at in range(0, len(bodies), self.batch):
                outcomes += self.processor.process_batch(bodies[at : at + self.batch])
        self.cpu += time.process_time() - cpu
        self.wall += time.perf_counter() - wall
        self.events += len(bodies)
        return outcomes

    def line(self, label: str) -> str:
        per = 1000 / max(self.events, 1)
        return (
            f"  {label:<34} {self.events:>6} events  CPU {self.cpu * per:6.3f} ms/event  "
            f"wall {self.wall * per:6.3f} ms/event"
        )


def customers_and_invoices(rng: random.Random, customers: int, invoices: int) -> dict[str, Any]:
    """Customer snapshots, and invoices (billing's rows and their issued events)."""
    customer_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(customers)]
    created = [
        body_of(
            envelope(
                "customers.customer.created",
                cid,
                1,
                customer_data(cid, number=f"C-{n:06d}", name=f"Customer {n} Ltd"),
            )
        )
        for n, cid in enumerate(customer_ids)
    ]
    start = dt.date(2026, 1, 1)
    rows, issued = [], []
    for n in range(invoices):
        row = invoice_row(
            customer_ids[n % customers],
            n + 1,
            rng.randint(1000, 50000),
            start + dt.timedelta(days=n % 300),
        )
        rows.append(row)
        total = f"{Decimal(row['total_minor']) / 100:.2f}"
        data = invoice_data(
            row["customer_id"],
            row["number"],
            total,
            issue_date=row["issue_date"],
            due_date=row["due_date"],
            id=str(row["id"]),
            bill_to_email="ap@acme.test",
        )
        issued.append(body_of(envelope("billing.invoice.issued", str(row["id"]), 1, data)))
    return {"customer_ids": customer_ids, "created": created, "rows": rows, "issued": issued}


def prepare_billing(db: Database, book: dict[str, Any]) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            insert(Account.__table__),
            [
                {"customer_id": cid, "currency": "EUR", "unapplied_credit_minor": 0}
                | {"updated_at": dt.datetime.now(dt.UTC)}
                for cid in book["customer_ids"]
            ],
        )
        conn.execute(insert(Invoice.__table__), book["rows"])
        conn.execute(
            insert(LedgerEntry.__table__),
            [
                ledger_row(i["customer_id"], i["issue_date"], "invoice", i["total_minor"])
                for i in book["rows"]
            ],
        )
        conn.execute(text("ANALYZE"))


def record_payments(db: Database, book: dict[str, Any], count: int, rng: random.Random) -> None:
    """Payments recorded by payments' own command, each on one invoice: some in full, most
    in part, as they come."""
    open_minor = {str(r["id"]): (r["customer_id"], r["total_minor"]) for r in book["rows"]}
    ids = list(open_minor)
    for _ in range(count):
        invoice_id = ids[rng.randrange(len(ids))]
        customer_id, left = open_minor[invoice_id]
        if left <= 0:
            continue
        amount = left if rng.random() < 0.3 else rng.randint(1, left)
        open_minor[invoice_id] = (customer_id, left - amount)
        share = {"invoice_id": uuid.UUID(invoice_id), "amount": Decimal(amount) / 100}
        with db.unit_of_work() as uow:
            payment_commands.record_payment(
                uow,
                {
                    "customer_id": uuid.UUID(customer_id),
                    "amount": Decimal(amount) / 100,
                    "currency": "EUR",
                    "method": "bank_transfer",
                    "reference": None,
                    "received_on": dt.date(2026, 11, 2),
                    "invoice_id": None,
                    "allocations": [share],
                    "notify": True,
                },
            )
            uow.commit()


def outbox_bodies(db: Database, after: int = 0) -> list[tuple[int, str]]:
    outbox = db.tables.outbox
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.id, outbox.c.payload).where(outbox.c.id > after).order_by(outbox.c.id)
        ).all()
    return [(row.id, row.payload) for row in rows]


def notification_sent(applied: dict[str, Any]) -> str:
    """The receipt notifier sends for an applied payment (its wire form)."""
    data = applied["data"]
    nid = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    return body_of(
        envelope(
            "notifier.notification.sent",
            nid,
            1,
            {
                "id": nid,
                "kind": "payment_receipt",
                "level": None,
                "channel": "email",
                "to": "ap@acme.test",
                "subject": "Payment received, thank you",
                "body": "We received your payment of EUR ... Thank you.",
                "status": "sent",
                "invoice_id": data["allocations"][0]["invoice_id"],
                "customer_id": data["customer_id"],
                "payment_id": data["payment_id"],
                "created_at": now,
                "sent_at": now,
                "error": None,
                "attempts": 1,
            },
            source="notifier",
            correlation_id=applied["correlation_id"],
            causation_id=applied["id"],
        )
    )


def flow_for_reporting(received: list[str], billed: list[str]) -> list[str]:
    """Each payment followed by what billing emitted for it and the receipt, as a queue
    bound to everything sees them (near enough)."""
    caused: dict[str, list[str]] = defaultdict(list)
    for body in billed:
        caused[json.loads(body)["causation_id"]].append(body)
    flow = []
    for body in received:
        flow.append(body)
        for effect in caused[json.loads(body)["id"]]:
            flow.append(effect)
            loaded = json.loads(effect)
            if loaded["type"] == "billing.payment.applied":
                flow.append(notification_sent(loaded))
    return flow


def run_mode(args: argparse.Namespace, batch: int) -> list[str]:
    """The whole flow with consumers taking ``batch`` messages per transaction; returns the
    bodies reporting consumed."""
    rng = random.Random(7)
    book = customers_and_invoices(rng, args.customers, args.invoices)
    setup = book["created"] + book["issued"]
    with (
        fresh_database(BILLING) as billing_db,
        fresh_database(PAYMENTS) as payments_db,
        fresh_database(REPORTING) as reporting_db,
    ):
        billing = Meter(EventProcessor(billing_db, BILLING.handlers), batch)
        payments = Meter(EventProcessor(payments_db, PAYMENTS.handlers), batch)
        payments_setup = Meter(payments.processor, batch)
        reporting = Meter(EventProcessor(reporting_db, REPORTING.handlers), batch)
        reporting_setup = Meter(reporting.processor, batch)
        billing.processor.process_batch(book["created"])
        prepare_billing(billing_db, book)
        payments_setup.feed(setup)
        reporting_setup.feed(setup)
        record_payments(payments_db, book, args.payments, rng)
        received = [body for _, body in outbox_bodies(payments_db)]
        before = max([i for i, _ in outbox_bodies(billing_db)], default=0)
        check(billing.feed(received), "billing")
        billed = [body for _, body in outbox_bodies(billing_db, before)]
        for_payments = [b for b in billed if json.loads(b)["type"] in PAYMENTS.handlers]
        check(payments.feed(for_payments), "payments")
        flow = flow_for_reporting(received, billed)
        check(reporting.feed(flow), "reporting")
        print(f"batch {batch}: {len(received)} payments, {len(billed)} events from billing")
        print(billing.line("billing: payment.received"))
        print(payments_setup.line("payments: customers, invoices"))
        print(payments.line("payments: billing's events"))
        print(reporting_setup.line("reporting: customers, invoices"))
        print(reporting.line("reporting: the flow"))
        print(f"  reporting read models: {digest(reporting_db)}")
    return setup + flow


def check(outcomes: list[Outcome], who: str) -> None:
    wrong = [o for o in outcomes if o is not Outcome.APPLIED]
    if wrong:
        print(f"  ({who}: {len(wrong)} not applied: {sorted({o.value for o in wrong})})")


def digest(db: Database) -> str:
    sha = hashlib.sha256()
    with db.engine.connect() as conn:
        for query in READ_MODELS:
            for row in conn.execute(text(query)):
                sha.update(repr(tuple(row)).encode())
    return sha.hexdigest()[:16]


def replay(path: Path, batches: Sequence[int]) -> None:
    bodies = json.loads(path.read_text())
    for batch in batches:
        with fresh_database(REPORTING) as db:
            meter = Meter(EventProcessor(db, REPORTING.handlers), batch)
            check(meter.feed(bodies), "reporting")
            print(f"batch {batch}: {meter.line('reporting replay')}")
            print(f"  digest {digest(db)}")


def parse_only(bodies: Sequence[str], handlers: Any, label: str, rounds: int = 3) -> None:
    """What reading the messages costs by itself: the envelope, the catalog's check."""
    processor = EventProcessor(None, handlers)  # type: ignore[arg-type]  # never touched
    raw = [body.encode() for body in bodies]
    best = float("inf")
    for _ in range(rounds):
        cpu = time.process_time()
        for body in raw:
            processor._parse(body)
        best = min(best, time.process_time() - cpu)
    per = best * 1e6 / len(raw)
    print(f"  parse only, {label:<24} {len(raw):>6} events  CPU {per:7.1f} µs/event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--invoices", type=int, default=500)
    parser.add_argument("--payments", type=int, default=600)
    parser.add_argument("--batches", default="1,20", help="messages per transaction, per run")
    parser.add_argument("--save-reporting", type=Path)
    parser.add_argument("--replay", type=Path)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.replay:
        replay(args.replay, batches)
        return
    consumed: list[str] = []
    for batch in batches:
        consumed = run_mode(args, batch)
    reading: dict[str, Callable[..., Any]] = {
        "reporting (#)": REPORTING.handlers,
        "payments": PAYMENTS.handlers,
    }
    for label, handlers in reading.items():
        parse_only(consumed, handlers, label)
    if args.save_reporting:
        args.save_reporting.write_text(json.dumps(consumed))


if __name__ == "__main__":
    main()
