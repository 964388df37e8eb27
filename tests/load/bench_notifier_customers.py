"""Notifier's and customers' CPU per payment, in-process on the local PostgreSQL.

The events of each payment are built with billing's and payments' own payload builders
(``services/billing/events.py``, ``services/payments/events.py``) from rows as those
services hold them, and fed to the services' ``EventProcessor`` in order:

- notifier: ``billing.invoice.updated`` v2 and v1 for the invoice it paid, then
  ``billing.payment.applied`` (the receipt or partial-payment notice is queued);
- delivery: notifier's delivery loop sends the queued notices to an SMTP server (aiosmtpd, a
  child process) with billing's figures from a stand-in billing over HTTP (a child process);
- customers: ``payments.payment.received``, then the ``notifier.notification.sent`` that
  delivery put in notifier's outbox (the communication history).

Prints ``time.process_time`` per payment (consuming: one by one and in batches) and per
email, in this process only: the SMTP server and billing's stand-in run in their own.
Run: `.venv/bin/python tests/load/bench_notifier_customers.py [--payments 300]`.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from services.billing import events as billing_events
from services.billing.models import Application, Invoice
from services.customers import commands as customer_commands
from services.customers import events as customer_events
from services.notifier.delivery import deliver_due
from services.notifier.models import Notification
from services.payments import events as payment_events
from services.payments.models import Payment
from services.registry import SERVICES
from shared.clock import utcnow
from shared.db import Database
from shared.messaging.consumer import EventProcessor, Outcome
from shared.messaging.envelope import to_json
from tests.support.databases import PostgresFactory
from tests.support.events import company_data, envelope
from tests.support.harness import make_settings
from tests.support.realmode import free_port
from tests.support.servers import database_server_url

DAY = dt.date(2026, 3, 5)
ISSUED_ON = dt.date(2026, 2, 1)


# -- billing's rows and the events built from them --------------------------------------------


def invoice_row(customer: dict[str, Any], seq: int, total_minor: int) -> Invoice:
    now = utcnow()
    net = f"{total_minor // 100}.{total_minor % 100:02d}"
    return Invoice(
        id=uuid.uuid4(),
        number=f"INV-2026-{seq:06d}",
        customer_id=customer["id"],
        status="open",
        currency="EUR",
        issue_date=ISSUED_ON,
        due_date=ISSUED_ON + dt.timedelta(days=30),
        bill_to={
            "name": customer["name"],
            "email": customer["email"],
            "tax_id": None,
            "billing_address": customer["billing_address"],
        },
        contract_id=None,
        lines=[
            {
                "sku": "CONSULT",
                "description": "Consulting, February",
                "quantity": "1",
                "unit_price": net,
                "discount_percent": "0.00",
                "net_amount": net,
                "tax_rate": "0.00",
                "tax_amount": "0.00",
                "tax_note": None,
            }
        ],
        subtotal_minor=total_minor,
        tax_minor=0,
        total_minor=total_minor,
        paid_minor=0,
        credited_minor=0,
        paid_on=None,
        notes=None,
        void_reason=None,
        notify=True,
        version=1,
        created_at=now,
        issued_at=now,
        voided_at=None,
        updated_at=now,
    )


class Billing:
    """Billing's side of the flow: its invoices, their event sequences, its answers."""

    def __init__(self) -> None:
        self.invoices: dict[str, Invoice] = {}
        self.applications: dict[str, list[Application]] = {}
        self.sequences: dict[str, int] = {}

    def event(self, event_type: str, subject: str, data: Any, version: int = 1) -> str:
        sequence = self.sequences.get(subject, 0) + 1
        self.sequences[subject] = sequence
        sent = envelope(event_type, subject, sequence, data, source="billing", version=version)
        return to_json(sent)

    def snapshot(self, invoice: Invoice) -> dict[str, Any]:
        return billing_events.invoice_snapshot(
            invoice, self.applications.get(str(invoice.id), []), DAY
        )

    def issue(self, invoice: Invoice) -> str:
        self.invoices[str(invoice.id)] = invoice
        return self.event("billing.invoice.issued", str(invoice.id), self.snapshot(invoice))

    def apply(self, payment: Payment, invoice: Invoice, amount_minor: int) -> list[str]:
        """What billing emits (and notifier consumes) when ``payment`` pays ``invoice``."""
        invoice.paid_minor += amount_minor
        invoice.status = "paid" if invoice.due_minor == 0 else "partially_paid"
        invoice.paid_on = DAY if invoice.status == "paid" else None
        invoice.version += 1
        invoice.updated_at = utcnow()
        self.applications.setdefault(str(invoice.id), []).append(
            Application(
                source_id=str(payment.id),
                source_kind="payment",
                amount_minor=amount_minor,
                date=DAY,
                applied_at=utcnow(),
            )
        )
        subject = str(invoice.id)
        v2 = billing_events.invoice_snapshot_v2(invoice, DAY)
        applied = billing_events.payment_applied(
            str(payment.id),
            payment.customer_id,
            [(invoice.id, amount_minor)],
            unapplied_minor=0,
            currency="EUR",
            day=DAY,
            from_credit=False,
        )
        return [
            self.event("billing.invoice.updated", subject, v2, version=2),
            self.event("billing.invoice.updated", subject, self.snapshot(invoice)),
            self.event("billing.payment.applied", str(payment.id), applied),
        ]

    def account(self, customer_id: str, ids: list[str]) -> dict[str, Any]:
        return {
            "customer_id": customer_id,
            "currency": "EUR",
            "balance": "0.00",
            "open_total": "0.00",
            "overdue_total": "0.00",
            "unapplied_credit": "0.00",
            "open_invoices": 0,
            "as_of": DAY.isoformat(),
            "invoices": [self.snapshot(self.invoices[i]) for i in ids],
        }


def payment_row(customer_id: str, seq: int, amount_minor: int, invoice: Invoice) -> Payment:
    now = utcnow()
    return Payment(
        id=uuid.uuid4(),
        number=f"PAY-2026-{seq:06d}",
        customer_id=customer_id,
        amount_minor=amount_minor,
        currency="EUR",
        method="bank_transfer",
        reference=f"RF{seq:08d}",
        received_on=DAY,
        requested=[
            {
                "invoice_id": str(invoice.id),
                "amount": f"{amount_minor // 100}.{amount_minor % 100:02d}",
            }
        ],
        invoice_id=str(invoice.id),
        notify=True,
        version=1,
        created_at=now,
    )


# -- stand-ins in child processes -------------------------------------------------------------


def serve_billing(port: int, answers_file: str) -> None:
    """Billing's ``GET /accounts/{id}?invoice_id=...`` and ``GET /accounts?customer_id=...``
    (a round's accounts together) as a keep-alive HTTP server."""
    answers: dict[str, Any] = json.loads(Path(answers_file).read_text())

    def account(customer_id: str, ids: list[str]) -> dict[str, Any]:
        invoices = [answers["invoices"][i] for i in ids]
        mine = [i for i in invoices if i["customer_id"] == customer_id]
        return {**answers["accounts"][customer_id], "invoices": mine}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            ids = query.get("invoice_id", [])
            if parts.path.rstrip("/") == "/accounts":
                items = [account(c, ids) for c in query.get("customer_id", [])]
                body = json.dumps({"items": items}).encode()
            else:
                body = json.dumps(account(parts.path.rstrip("/").rpartition("/")[2], ids)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


@contextmanager
def child(args: list[str], port: int) -> Iterator[None]:
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield
    finally:
        process.terminate()
        process.wait(10)


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


# -- measuring --------------------------------------------------------------------------------


PROFILE: dict[str, str] = {}  # --profile WHAT: the phase whose report starts with WHAT


def cpu(work: Callable[[], Any], what: str = "") -> float:
    """CPU seconds of ``work()``; profiled (CPU time) into /tmp/bench-notifier.prof if it is
    the phase asked for."""
    asked = bool(what) and what == PROFILE.get("phase")
    profiler = cProfile.Profile(time.process_time) if asked else None
    started = time.process_time()
    if profiler is not None:
        profiler.runcall(work)
        profiler.dump_stats("/tmp/bench-notifier.prof")
    else:
        work()
    return time.process_time() - started


def expected(body: str) -> set[Outcome]:
    """Applied, except billing.invoice.updated version 1, which notifier acks and ignores
    (decision 87) as every subscriber does for a version it was not written for."""
    envelope = json.loads(body)
    if envelope["type"] == "billing.invoice.updated" and envelope["version"] == 1:
        return {Outcome.IGNORED}
    return {Outcome.APPLIED}


def consume(processor: EventProcessor, bodies: list[list[str]], batch: int, what: str) -> float:
    """CPU seconds to process every payment's bodies, ``batch`` payments per transaction
    (1: each message on its own)."""

    def run() -> None:
        if batch == 1:
            for group in bodies:
                for body in group:
                    outcome = processor.process(body)
                    assert outcome in expected(body), (outcome, body[:300])
            return
        for start in range(0, len(bodies), batch):
            flat = [body for group in bodies[start : start + batch] for body in group]
            outcomes = processor.process_batch(flat)
            assert all(o in expected(b) for o, b in zip(outcomes, flat, strict=True)), outcomes

    return cpu(run, f"{what}-{'single' if batch == 1 else 'batch'}")


def report(what: str, seconds: float, count: int, unit: str) -> None:
    print(f"{what:<52} {seconds * 1000 / count:7.3f} ms CPU per {unit}  ({count} {unit}s)")


# -- the flow ---------------------------------------------------------------------------------


def setup_customers(customers_db: Database, count: int) -> list[dict[str, Any]]:
    """Customers created through customers' own command; their snapshots as published."""
    made = []
    with customers_db.unit_of_work() as uow:
        for i in range(count):
            row = customer_commands.create_customer(
                uow,
                {
                    "name": f"Πελάτης {i} ΑΕ",
                    "email": f"ap{i}@customer.test",
                    "payment_terms": "net_30",
                    "currency": "EUR",
                    "reminders_enabled": True,
                    "billing_address": {"line1": "Οδός 1", "city": "Αθήνα", "country": "GR"},
                    "language": "el" if i % 2 else "en",
                },
            )
            made.append(customer_events.customer_snapshot(row))
        uow.commit()
    return [json.loads(to_json(c)) for c in made]


def customer_bodies(customers: list[dict[str, Any]]) -> list[str]:
    company = envelope("billing.company.updated", "company", 1, company_data(), source="billing")
    created = [
        envelope("customers.customer.created", c["id"], 1, c, source="customers") for c in customers
    ]
    return [to_json(company), *(to_json(e) for e in created)]


def run(args: argparse.Namespace) -> None:
    factory = PostgresFactory(database_server_url(), uuid.uuid4().hex[:8])
    try:
        bench(args, factory)
    finally:
        factory.drop_all()


def make_db(factory: PostgresFactory, name: str, **extra: str) -> tuple[Database, Any]:
    definition = SERVICES[name]
    url = factory.fresh(definition)
    settings = make_settings(name, url, "memory://", "bench", "bench.", **extra)
    return definition.database(settings), settings


def bench(args: argparse.Namespace, factory: PostgresFactory) -> None:
    smtp_port, billing_port = free_port(), free_port()
    notifier_db, notifier_settings = make_db(
        factory,
        "notifier",
        TAMEIO_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        TAMEIO_BILLING_URL=f"http://127.0.0.1:{billing_port}",
    )
    customers_db, _ = make_db(factory, "customers")
    notifier = EventProcessor(notifier_db, SERVICES["notifier"].handlers)
    customers = EventProcessor(customers_db, SERVICES["customers"].handlers)
    people = setup_customers(customers_db, 20)
    customers.process_batch(customer_bodies(people)[:1])
    notifier.process_batch(customer_bodies(people))

    billing = Billing()
    per_payment: list[list[str]] = []
    received: list[list[str]] = []
    issued = []
    for i in range(args.payments * 2):
        person = people[i % len(people)]
        invoice = invoice_row(person, i + 1, 10000 + 137 * (i % 50))
        issued.append(billing.issue(invoice))
        if i >= args.payments:
            continue
        amount = invoice.total_minor if i % 3 else invoice.total_minor // 2
        payment = payment_row(person["id"], i + 1, amount, invoice)
        per_payment.append(billing.apply(payment, invoice, amount))
        sent = envelope(
            "payments.payment.received",
            str(payment.id),
            1,
            json.loads(to_json(payment_events.payment_received(payment))),
            source="payments",
        )
        received.append([to_json(sent)])
    # The invoices are issued before (their emails are not what this measures).
    notifier.process_batch(issued)
    with notifier_db.engine.begin() as conn:
        conn.execute(Notification.__table__.delete())

    half = len(per_payment) // 2
    report(
        "notifier: consume, one by one",
        consume(notifier, per_payment[:half], 1, "notifier"),
        half,
        "payment",
    )
    report(
        f"notifier: consume, {args.batch} payments a batch",
        consume(notifier, per_payment[half:], args.batch, "notifier"),
        len(per_payment) - half,
        "payment",
    )

    answers = Path(f"/tmp/bench-notifier-billing-{billing_port}.json")
    answers.write_text(
        to_json(
            {
                "accounts": {p["id"]: billing.account(p["id"], []) for p in people},
                "invoices": {i: billing.snapshot(inv) for i, inv in billing.invoices.items()},
            }
        )
    )
    smtp = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}"]
    stub = [sys.executable, __file__, "--serve-billing", str(billing_port), str(answers)]
    with child([*smtp, "-c", "aiosmtpd.handlers.Sink"], smtp_port), child(stub, billing_port):
        tried = 0

        def deliver() -> None:
            nonlocal tried
            while True:
                done = deliver_due(notifier_db, notifier_settings)
                if not done:
                    return
                tried += done

        seconds = cpu(deliver, "delivery")
    answers.unlink()
    with notifier_db.engine.connect() as conn:
        statuses = conn.execute(
            Notification.__table__.select().with_only_columns(Notification.status)
        ).scalars()
        assert set(statuses) == {"sent"}, set(statuses)
    report("notifier: deliver (fetch, write, SMTP, record)", seconds, tried, "email")

    outbox = notifier_db.tables.outbox
    with notifier_db.engine.connect() as conn:
        sent_events = [
            row.payload
            for row in conn.execute(
                outbox.select().where(outbox.c.event_type == "notifier.notification.sent")
            )
        ]
    assert len(sent_events) == len(per_payment)
    groups = [[*r, s] for r, s in zip(received, sent_events, strict=True)]
    report(
        "customers: consume, one by one",
        consume(customers, groups[:half], 1, "customers"),
        half,
        "payment",
    )
    report(
        f"customers: consume, {args.batch} payments a batch",
        consume(customers, groups[half:], args.batch, "customers"),
        len(groups) - half,
        "payment",
    )
    notifier_db.dispose()
    customers_db.dispose()


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-billing":
        serve_billing(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=300)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument(
        "--profile",
        choices=[f"{s}-{m}" for s in ("notifier", "customers") for m in ("single", "batch")]
        + ["delivery"],
        help="cProfile this phase into /tmp/bench-notifier.prof",
    )
    args = parser.parse_args()
    if args.profile:
        PROFILE["phase"] = args.profile
    run(args)


if __name__ == "__main__":
    main()
