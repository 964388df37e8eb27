"""Reporting on PostgreSQL: rebuilding the read models from an event log of 1,000,000 events
through ``POST /admin/rebuild``, with its progress, then aging on a few dates against the
naive computation (the rebuilt read models must give the same figures).

The log is what reporting would have received for the simulated history of
``bench_reporting.py`` (about 90,000 invoices over 4,500 customers make a million events),
every event in its catalog shape and in the order it happened: customers created and renamed,
invoices issued (with the balance change, the invoice email sent and logged in the customer's
history), reminders for overdue invoices, payments received and applied (with each invoice's
snapshot and paid / partially paid event, the balance change, the receipt), credit notes,
credit used by later invoices, voids, reversals and refunds. Only about a quarter of these are
of a type the read models use; ``--projected-only`` logs only those, the rebuild's worst case.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, make_url, select, text
from sqlalchemy.exc import DBAPIError

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from services.reporting.app import SERVICE
from services.reporting.commands import PROJECTIONS
from services.reporting.models import LoggedEvent, Movement, ReportInvoice
from shared.config import load_settings
from shared.logs import configure_logging
from shared.messaging.envelope import to_json
from shared.web.auth import IDENTITY_HEADER, Identity, sign_identity
from tests.load.bench_reporting import (
    END,
    Fact,
    History,
    Invoice,
    describe,
    measure,
    new_id,
    simulate,
)
from tests.load.common import drop_database
from tests.support.realmode import DATABASE

SECRET = "benchmark-internal-secret-000"
EVENTS_PER_INVOICE = 11.7  # what the simulated history gives, all event types together
PROJECTED_PER_INVOICE = 2.8  # of which the read models use about this many
INVOICES_PER_CUSTOMER = 20


def money(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2))


class EventLog:
    """Turns the history's facts into the envelopes the services would publish, in order."""

    def __init__(self, history: History, projected_only: bool) -> None:
        self.history = history
        self.projected_only = projected_only
        self.rng = random.Random(3)
        self.sequences: Counter[str] = Counter()
        self.paid: Counter[str] = Counter()  # invoice id -> paid so far
        self.credited: Counter[str] = Counter()
        self.balance: Counter[str] = Counter()  # customer id -> balance so far
        self.seconds = 0

    def events(self) -> Iterator[dict[str, Any]]:
        for sku in ("FLAT", "WIDGET", "BOOK", "SUPPORT", "LICENCE"):
            yield self.envelope(
                "contracts.item.created",
                "contracts",
                sku,
                dt.date(2024, 12, 1),
                {"sku": sku, "name": f"Item {sku}", "unit_price": "100.00", "currency": "EUR",
                 "tax_code": "standard", "active": True},
            )  # fmt: skip
        for fact in self.history.facts:
            yield from getattr(self, fact.kind)(fact)

    def envelope(
        self,
        event_type: str,
        source: str,
        subject: str,
        day: dt.date,
        data: dict[str, Any],
        cause: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        event_id = new_id(self.rng)
        self.sequences[subject] += 1
        self.seconds = (self.seconds + 7) % 36_000  # business hours, spread
        at = dt.datetime.combine(day, dt.time(8), dt.UTC) + dt.timedelta(seconds=self.seconds)
        return {
            "id": event_id,
            "type": event_type,
            "version": 1,
            "occurred_at": at,
            "source": source,
            "subject": subject,
            "sequence": self.sequences[subject],
            "correlation_id": cause["correlation_id"] if cause else event_id,
            "causation_id": cause["id"] if cause else None,
            "data": data,
        }

    def wanted(self, event_type: str) -> bool:
        return not self.projected_only or event_type in PROJECTIONS

    # -- snapshots ---------------------------------------------------------------------------

    def customer_data(self, fact: Fact, name: str, version: int) -> dict[str, Any]:
        c = fact.customer
        stamp = dt.datetime.combine(fact.day, dt.time(9), dt.UTC)
        return {
            "id": c.id, "number": c.number, "name": name, "email": f"ap@{c.number.lower()}.test",
            "phone": None, "billing_address": {"line1": "1 Market St", "line2": None,
            "city": "Athens", "postal_code": "10431", "region": None, "country": "GR"},
            "payment_terms": f"net_{c.terms}", "currency": c.currency, "tax_id": None,
            "credit_limit": None, "reminders_enabled": True, "notes": None, "status": "active",
            "version": version, "created_at": stamp, "updated_at": stamp,
        }  # fmt: skip

    def invoice_data(self, invoice: Invoice, day: dt.date, status: str) -> dict[str, Any]:
        c = invoice.customer
        paid, credited = self.paid[invoice.id], self.credited[invoice.id]
        due = invoice.total - paid - credited if status != "void" else 0
        stamp = dt.datetime.combine(invoice.issue_date, dt.time(10), dt.UTC)
        return {
            "id": invoice.id, "number": invoice.number, "customer_id": c.id, "status": status,
            "currency": c.currency, "date": day, "issue_date": invoice.issue_date,
            "due_date": invoice.due_date,
            "bill_to": {"name": c.name, "email": f"ap@{c.number.lower()}.test", "tax_id": None,
                        "billing_address": None},
            "contract_id": None,
            "lines": [{"sku": "FLAT", "description": "Services", "quantity": "1",
                       "unit_price": money(invoice.net), "discount_percent": "0.00",
                       "net_amount": money(invoice.net), "tax_rate": "24.00",
                       "tax_amount": money(invoice.tax), "tax_note": None}],
            "subtotal": money(invoice.net), "tax_total": money(invoice.tax),
            "total": money(invoice.total), "amount_paid": money(paid),
            "amount_credited": money(credited), "amount_due": money(due),
            "overdue": day > invoice.due_date and due > 0,
            "days_overdue": max(0, (day - invoice.due_date).days) if due > 0 else 0,
            "payments": [], "paid_on": day if due == 0 and status == "paid" else None,
            "notes": None, "void_reason": None, "version": 2, "created_at": stamp,
            "issued_at": stamp, "voided_at": None, "updated_at": stamp,
        }  # fmt: skip

    def progress(
        self, invoice: Invoice, day: dt.date, cause: dict[str, Any], payment_id: str | None
    ) -> Iterator[dict[str, Any]]:
        """billing.invoice.updated and .paid / .partially_paid after money reached it."""
        due = invoice.total - self.paid[invoice.id] - self.credited[invoice.id]
        status = "paid" if due == 0 else "partially_paid"
        if self.wanted("billing.invoice.updated"):
            data = self.invoice_data(invoice, day, status)
            yield self.envelope("billing.invoice.updated", "billing", invoice.id, day, data, cause)
        if self.wanted(f"billing.invoice.{status}"):
            yield self.envelope(
                f"billing.invoice.{status}", "billing", invoice.id, day,
                {"invoice_id": invoice.id, "customer_id": invoice.customer.id,
                 "amount_paid": money(self.paid[invoice.id]), "amount_due": money(due),
                 "currency": invoice.customer.currency, "date": day, "number": invoice.number,
                 "total": money(invoice.total), "amount_credited": money(self.credited[invoice.id]),
                 "issue_date": invoice.issue_date, "due_date": invoice.due_date,
                 "payment_id": payment_id, "credit_note_id": None},
                cause,
            )  # fmt: skip

    def balance_changed(
        self, fact: Fact, change: int, cause: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        c = fact.customer
        self.balance[c.id] += change
        if self.wanted("billing.account.balance_changed"):
            yield self.envelope(
                "billing.account.balance_changed", "billing", c.id, fact.day,
                {"customer_id": c.id, "balance": money(self.balance[c.id]),
                 "unapplied_credit": "0.00", "currency": c.currency, "date": fact.day,
                 "open_total": None, "overdue_total": None, "open_invoices": None},
                cause,
            )  # fmt: skip

    def notified(
        self, fact: Fact, kind: str, subject: str, invoice: Invoice | None, cause: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        """The notifier's email sent, then the customers service logging it."""
        c = fact.customer
        sent = dt.datetime.combine(fact.day, dt.time(11), dt.UTC)
        notification_id = new_id(self.rng)
        if self.wanted("notifier.notification.sent"):
            yield self.envelope(
                "notifier.notification.sent", "notifier", notification_id, fact.day,
                {"id": notification_id, "kind": kind, "level": 1 if kind == "reminder" else None,
                 "channel": "email", "to": f"ap@{c.number.lower()}.test", "subject": subject,
                 "body": f"Dear {c.name},\n\n{subject}.\n\nKind regards,\nAccounts receivable",
                 "status": "sent", "invoice_id": invoice.id if invoice else None,
                 "customer_id": c.id, "payment_id": None, "created_at": sent, "sent_at": sent,
                 "error": None, "attempts": 1},
                cause,
            )  # fmt: skip
        if self.wanted("customers.interaction.logged"):
            interaction_id = new_id(self.rng)
            yield self.envelope(
                "customers.interaction.logged", "customers", interaction_id, fact.day,
                {"id": interaction_id, "customer_id": c.id, "channel": "email",
                 "direction": "outbound", "subject": subject, "body": None,
                 "invoice_id": invoice.id if invoice else None, "occurred_at": sent,
                 "source": f"notification:{notification_id}:sent", "author": None},
                cause,
            )  # fmt: skip

    # -- one method per kind of fact ---------------------------------------------------------

    def customer(self, fact: Fact) -> Iterator[dict[str, Any]]:
        data = self.customer_data(fact, fact.customer.name, 1)
        yield self.envelope(
            "customers.customer.created", "customers", fact.customer.id, fact.day, data
        )

    def renamed(self, fact: Fact) -> Iterator[dict[str, Any]]:
        data = self.customer_data(fact, fact.customer.name.replace("Ltd", "Group"), 2)
        yield self.envelope(
            "customers.customer.updated", "customers", fact.customer.id, fact.day, data
        )

    def invoice(self, fact: Fact) -> Iterator[dict[str, Any]]:
        invoice = fact.invoice
        assert invoice is not None
        data = self.invoice_data(invoice, fact.day, "open")
        issued = self.envelope("billing.invoice.issued", "billing", invoice.id, fact.day, data)
        yield issued
        yield from self.balance_changed(fact, invoice.total, issued)
        subject = f"Invoice {invoice.number}"
        yield from self.notified(fact, "invoice", subject, invoice, issued)

    def void(self, fact: Fact) -> Iterator[dict[str, Any]]:
        invoice = fact.invoice
        assert invoice is not None
        voided = self.envelope(
            "billing.invoice.voided", "billing", invoice.id, fact.day,
            {"invoice_id": invoice.id, "customer_id": fact.customer.id,
             "reason": "issued by mistake", "date": fact.day, "number": invoice.number,
             "total": money(invoice.total), "currency": fact.customer.currency},
        )  # fmt: skip
        yield voided
        if self.wanted("billing.invoice.updated"):
            data = self.invoice_data(invoice, fact.day, "void")
            yield self.envelope(
                "billing.invoice.updated", "billing", invoice.id, fact.day, data, voided
            )
        yield from self.balance_changed(fact, -invoice.total, voided)

    def overdue(self, fact: Fact) -> Iterator[dict[str, Any]]:
        invoice = fact.invoice
        assert invoice is not None
        if self.wanted("billing.invoice.overdue"):
            due = invoice.total - self.paid[invoice.id] - self.credited[invoice.id]
            late = self.envelope(
                "billing.invoice.overdue", "billing", invoice.id, fact.day,
                {"invoice_id": invoice.id, "customer_id": fact.customer.id,
                 "due_date": invoice.due_date, "amount_due": money(due),
                 "currency": fact.customer.currency, "as_of": fact.day,
                 "number": invoice.number, "days_overdue": 1},
            )  # fmt: skip
            yield late
            subject = f"Reminder: invoice {invoice.number} is overdue"
            yield from self.notified(fact, "reminder", subject, invoice, late)

    def payment(self, fact: Fact) -> Iterator[dict[str, Any]]:
        payment = fact.payment
        assert payment is not None
        c = fact.customer
        received = self.envelope(
            "payments.payment.received", "payments", payment.id, fact.day,
            {"id": payment.id, "number": payment.number, "customer_id": c.id,
             "amount": money(payment.amount), "currency": c.currency, "method": "bank_transfer",
             "reference": f"RF{payment.number[-6:]}", "received_on": fact.day, "date": fact.day,
             "allocations": [], "invoice_id": None, "status": "received", "version": 1,
             "created_at": dt.datetime.combine(fact.day, dt.time(12), dt.UTC)},
        )  # fmt: skip
        yield received
        applied_total = sum(part for _, part in payment.allocations)
        yield self.envelope(
            "billing.payment.applied", "billing", payment.id, fact.day,
            {"payment_id": payment.id, "customer_id": c.id,
             "allocations": [{"invoice_id": i.id, "amount": money(part)}
                             for i, part in payment.allocations],
             "unapplied_amount": money(payment.amount - applied_total),
             "currency": c.currency, "date": fact.day, "from_credit": False},
            received,
        )  # fmt: skip
        for invoice, part in payment.allocations:
            self.paid[invoice.id] += part
            yield from self.progress(invoice, fact.day, received, payment.id)
        yield from self.balance_changed(fact, -payment.amount, received)
        subject = f"Payment {payment.number} received"
        yield from self.notified(fact, "receipt", subject, None, received)

    def credit_use(self, fact: Fact) -> Iterator[dict[str, Any]]:
        assert fact.source is not None
        kind, source_id = fact.source
        c = fact.customer
        allocations = [{"invoice_id": i.id, "amount": money(part)} for i, part in fact.allocations]
        if kind == "payment":
            event_type, data = (
                "billing.payment.applied",
                {"payment_id": source_id, "from_credit": True},
            )
        else:
            event_type, data = "billing.credit_note.applied", {"credit_note_id": source_id}
        used = self.envelope(
            event_type, "billing", source_id, fact.day,
            {**data, "customer_id": c.id, "allocations": allocations,
             "unapplied_amount": money(fact.amount), "currency": c.currency, "date": fact.day},
        )  # fmt: skip
        yield used
        for invoice, part in fact.allocations:
            self.paid[invoice.id] += part
            yield from self.progress(invoice, fact.day, used, None)
        yield from self.balance_changed(fact, 0, used)

    def credit_note(self, fact: Fact) -> Iterator[dict[str, Any]]:
        c, invoice = fact.customer, fact.invoice
        net = fact.amount * 100 // 124
        issued = self.envelope(
            "billing.credit_note.issued", "billing", fact.id, fact.day,
            {"id": fact.id, "number": fact.number, "customer_id": c.id,
             "invoice_id": invoice.id if invoice else None, "amount": money(fact.amount),
             "currency": c.currency, "date": fact.day, "reason": "returned goods",
             "lines": [{"tax_rate": "24.00", "net_amount": money(net),
                        "tax_amount": money(fact.amount - net)}],
             "net_total": money(net), "tax_total": money(fact.amount - net),
             "applied_amount": money(fact.applied),
             "unapplied_amount": money(fact.amount - fact.applied),
             "created_at": dt.datetime.combine(fact.day, dt.time(14), dt.UTC)},
        )  # fmt: skip
        yield issued
        if invoice is not None and fact.applied:
            self.credited[invoice.id] += fact.applied
            yield from self.progress(invoice, fact.day, issued, None)
        yield from self.balance_changed(fact, -fact.amount, issued)

    def reversal(self, fact: Fact) -> Iterator[dict[str, Any]]:
        payment = fact.payment
        assert payment is not None
        c = fact.customer
        reversed_ = self.envelope(
            "payments.payment.reversed", "payments", payment.id, fact.day,
            {"payment_id": payment.id, "customer_id": c.id, "reason": "bounced",
             "date": fact.day, "number": payment.number, "amount": money(payment.amount),
             "currency": c.currency, "received_on": payment.day,
             "reversed_at": dt.datetime.combine(fact.day, dt.time(15), dt.UTC)},
        )  # fmt: skip
        yield reversed_
        yield self.envelope(
            "billing.payment.unapplied", "billing", payment.id, fact.day,
            {"payment_id": payment.id, "customer_id": c.id,
             "allocations": [{"invoice_id": i.id, "amount": money(part)}
                             for i, part in payment.allocations],
             "currency": c.currency, "date": fact.day, "unapplied_amount": "0.00",
             "reason": "bounced"},
            reversed_,
        )  # fmt: skip
        for invoice, part in payment.allocations:
            self.paid[invoice.id] -= part
            if self.wanted("billing.invoice.updated"):
                data = self.invoice_data(invoice, fact.day, "open")
                yield self.envelope(
                    "billing.invoice.updated", "billing", invoice.id, fact.day, data, reversed_
                )
        yield from self.balance_changed(fact, payment.amount, reversed_)

    def refund(self, fact: Fact) -> Iterator[dict[str, Any]]:
        c = fact.customer
        issued = self.envelope(
            "payments.refund.issued", "payments", fact.id, fact.day,
            {"id": fact.id, "number": fact.number, "customer_id": c.id,
             "amount": money(fact.amount), "currency": c.currency, "method": "bank_transfer",
             "reference": None, "date": fact.day, "status": "issued",
             "created_at": dt.datetime.combine(fact.day, dt.time(16), dt.UTC)},
        )  # fmt: skip
        yield issued
        yield from self.balance_changed(fact, fact.amount, issued)


def fill_log(db: Any, events: Iterator[dict[str, Any]], limit: int) -> Counter[str]:
    """COPY up to ``limit`` events into the event log, as the consumer would have stored them."""
    types: Counter[str] = Counter()
    columns = ("event_id", "event_type", "version", "source", "subject", "sequence",
               "occurred_at", "received_at", "envelope")  # fmt: skip
    with db.engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY event_log ({', '.join(columns)}) FROM STDIN") as copy:
            for envelope in events:
                if sum(types.values()) >= limit:
                    break
                types[envelope["type"]] += 1
                received = envelope["occurred_at"] + dt.timedelta(milliseconds=40)
                copy.write_row(
                    (envelope["id"], envelope["type"], 1, envelope["source"], envelope["subject"],
                     envelope["sequence"], envelope["occurred_at"], received, to_json(envelope))
                )  # fmt: skip
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE event_log"))
        with contextlib.suppress(DBAPIError):  # as in bench_reporting.load_read_models
            conn.execute(text("CHECKPOINT"))
    return types


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--projected-only", action="store_true")
    parser.add_argument("--runs", type=int, default=5, help="aging timings per date afterwards")
    args = parser.parse_args()
    configure_logging("INFO")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    per_invoice = PROJECTED_PER_INVOICE if args.projected_only else EVENTS_PER_INVOICE
    invoices = int(args.events / per_invoice * 1.05) + 10  # a little more, then cut
    customers = max(1, invoices // INVOICES_PER_CUSTOMER)
    name = f"tameio_benchrebuild_{uuid.uuid4().hex[:8]}"
    url = make_url(DATABASE).set(database=name).render_as_string(hide_password=False)
    settings = load_settings(
        "reporting", {"TAMEIO_REPORTING_DATABASE_URL": url, "TAMEIO_INTERNAL_SECRET": SECRET}
    )
    SERVICE.migrate(settings)
    db = SERVICE.database(settings)
    try:
        started = time.perf_counter()
        history = simulate(customers, invoices)
        print(describe(history), flush=True)
        types = fill_log(db, EventLog(history, args.projected_only).events(), args.events)
        del history  # its million objects would slow the measured Python down
        total = sum(types.values())
        projected = sum(n for t, n in types.items() if t in PROJECTIONS)
        print(f"event log: {total} events ({projected} of types the read models use), "
              f"filled in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        for event_type, count in types.most_common():
            print(f"  {count:>8}  {event_type}")
        # The rebuild is what an admin asks for: POST /admin/rebuild, timed end to end.
        client = SERVICE.create_app(settings, db).test_client()
        headers = {IDENTITY_HEADER: sign_identity(SECRET, Identity("bench", "admin"))}
        started = time.perf_counter()
        answer = client.post("/admin/rebuild", headers=headers)
        seconds = time.perf_counter() - started
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.get_json() == {"events": total}, answer.get_json()
        print(
            f"rebuild of {total} events: {seconds:.1f} s, {total / seconds:,.0f} events/s "
            f"({projected / seconds:,.0f} replayed events/s)",
            flush=True,
        )
        with db.unit_of_work() as uow:
            rows = {
                model.__tablename__: uow.session.execute(
                    select(func.count()).select_from(model)
                ).scalar_one()
                for model in (ReportInvoice, Movement, LoggedEvent)
            }
        print(f"read models: {rows}")
        measure(db, (END, dt.date(2026, 6, 30), dt.date(2025, 12, 31)), args.runs)
    finally:
        db.dispose()
        drop_database(DATABASE, name)


if __name__ == "__main__":
    main()
