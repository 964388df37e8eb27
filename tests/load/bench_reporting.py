"""Reporting on PostgreSQL: aging as of a date over 10,000 customers and 200,000 invoices
(target p50 < 300 ms), against the same figures computed naively from the raw documents
(every invoice and movement read into Python), on several dates.

The data is a simulated business history (:func:`simulate`, also what
``bench_reporting_rebuild.py`` turns into events): customers joining over two years, each
with its own payment terms, payday and habit (prompt, late, in instalments, or a bad payer),
invoices of varied amounts, payments on the customer's payday often covering several invoices,
overpayments whose credit pays the next invoice or is refunded, credit notes (against an
invoice or standalone), invoices voided by mistake, bounced payments reversed and paid again.
Whatever falls after the last day stays open, as it would. The read models are written
directly (COPY), their kept figures computed by the reporting service's own code.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import heapq
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import make_url, select, text
from sqlalchemy.exc import DBAPIError

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from services.reporting.app import SERVICE
from services.reporting.commands import refresh_balances, refresh_invoices
from services.reporting.models import ACCOUNT_KINDS, Movement, ReportInvoice
from services.reporting.queries import BUCKETS, aged_dues, aging
from shared.config import load_settings
from shared.db import Database
from shared.money import to_minor
from tests.load.common import drop_database, percentile
from tests.support.realmode import DATABASE

DAY = dt.timedelta(days=1)
START, END = dt.date(2025, 1, 1), dt.date(2026, 11, 20)
# The last day of the history (everything settled by then is settled), the end of its first
# half-year, a year end and an early date.
DATES = (END, dt.date(2026, 6, 30), dt.date(2025, 12, 31), dt.date(2025, 3, 31))


# -- a simulated business history ------------------------------------------------------------


def new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(eq=False)
class Customer:
    id: str
    number: str
    name: str
    currency: str
    terms: int  # days from issue to due
    habit: str  # prompt, late, instalments, defaulter
    created_on: dt.date
    payday: int  # the weekday it pays on (0 = Monday)


@dataclass(eq=False)
class Invoice:
    id: str
    number: str
    customer: Customer
    issue_date: dt.date
    due_date: dt.date
    net: int  # minor units, like every amount here
    tax: int
    total: int
    due: int  # still due, as the history stands
    paid: int = 0
    credited: int = 0
    void_on: dt.date | None = None


@dataclass(eq=False)
class Payment:
    id: str
    number: str
    customer: Customer
    day: dt.date
    amount: int
    allocations: list[tuple[Invoice, int]]


@dataclass(eq=False)
class Fact:
    """One dated happening, as the services would report it in events.

    kind: customer, renamed, invoice, void, overdue (invoice); payment, reversal (payment);
    credit_use (allocations from ``source``, ``amount`` left of it); credit_note (invoice or
    None, amount, applied); refund (amount)."""

    day: dt.date
    kind: str
    customer: Customer
    invoice: Invoice | None = None
    payment: Payment | None = None
    allocations: list[tuple[Invoice, int]] = field(default_factory=list)
    amount: int = 0
    applied: int = 0
    source: tuple[str, str] | None = None  # ("payment" | "credit_note", id)
    id: str = ""
    number: str = ""


@dataclass
class History:
    customers: list[Customer]
    invoices: list[Invoice]
    facts: list[Fact]  # by date


class CustomerLife:
    """One customer's history, played day by day from a queue of planned actions."""

    def __init__(self, world: Simulation, customer: Customer, issue_days: list[dt.date]) -> None:
        self.world, self.customer, self.rng = world, customer, world.rng
        self.queue: list[tuple[dt.date, int, int, str, Any]] = []
        self.ticks = 0
        self.credit: list[list[Any]] = []  # oldest first: [kind, source id, amount left]
        self.open: list[Invoice] = []  # issued, not void, something due, oldest first
        for day in issue_days:
            self.plan(day, 0, "issue", None)

    def plan(self, day: dt.date, rank: int, action: str, subject: Any) -> None:
        """Do ``action`` on ``day`` (rank orders a day's actions); never after the end."""
        if day <= self.world.end:
            self.ticks += 1
            heapq.heappush(self.queue, (day, rank, self.ticks, action, subject))

    def live(self) -> None:
        rng, customer = self.rng, self.customer
        self.world.fact(Fact(customer.created_on, "customer", customer))
        renamed = customer.created_on + DAY * rng.randrange(1, 400)
        if rng.random() < 0.1 and renamed <= self.world.end:
            self.world.fact(Fact(renamed, "renamed", customer))
        while self.queue:
            day = self.queue[0][0]
            instalments = []
            while self.queue and self.queue[0][0] == day:
                _, _, _, action, subject = heapq.heappop(self.queue)
                if action == "pay":
                    instalments.append(subject)
                else:
                    getattr(self, action)(day, subject)
            if instalments:  # one payment for all that falls due on a payday
                self.pay(day, instalments)

    def issue(self, day: dt.date, _: Any) -> None:
        rng, customer = self.rng, self.customer
        net = int(rng.lognormvariate(10.3, 1.0)) + 500  # median about 300.00
        tax = net * 24 // 100
        invoice = self.world.invoice(customer, day, net, tax)
        self.world.fact(Fact(day, "invoice", customer, invoice=invoice))
        self.open.append(invoice)
        self.plan(invoice.due_date + DAY, 9, "overdue", invoice)
        if rng.random() < 0.015:  # issued by mistake: voided within days, nothing paid
            self.plan(day + DAY * rng.randrange(0, 10), 1, "void", invoice)
            return
        self.use_credit(day, invoice)
        if rng.random() < 0.03:  # a complaint or a return: a credit note against it
            self.plan(
                day + DAY * rng.randrange(2, 25), 2, "credit_note", (invoice, 5 + rng.randrange(55))
            )
        if rng.random() < 0.005:  # a goodwill credit on the account
            amount = rng.randrange(1_000, 30_000)
            self.plan(day + DAY * rng.randrange(1, 30), 2, "credit_note", (None, amount))
        self.plan_payments(day, invoice)

    def plan_payments(self, day: dt.date, invoice: Invoice) -> None:
        rng, terms, total = self.rng, self.customer.terms, invoice.total
        habit = self.customer.habit
        if habit == "prompt":
            schedule = [(rng.randrange(3, terms + 1), total)]
        elif habit == "late":
            schedule = [(terms + rng.randrange(1, 80), total)]
        elif habit == "instalments":
            cuts = sorted(rng.randrange(1, total) for _ in range(rng.randrange(1, 4)))
            offset, schedule = rng.randrange(5, 30), []
            for low, high in zip([0, *cuts], [*cuts, total], strict=True):
                schedule.append((offset, high - low))
                offset += rng.randrange(15, 45)
        elif rng.random() < 0.5:  # a bad payer: half paid late, the rest in part or never
            schedule = [(terms + rng.randrange(10, 120), total)]
        elif rng.random() < 0.5:
            schedule = [(terms + rng.randrange(10, 90), total * rng.randrange(60) // 100)]
        else:
            schedule = []
        for offset, amount in schedule:
            if amount > 0:
                self.plan(self.payday_from(day + DAY * offset), 3, "pay", (invoice, amount))

    def payday_from(self, day: dt.date) -> dt.date:
        return day + DAY * ((self.customer.payday - day.weekday()) % 7)

    def void(self, day: dt.date, invoice: Invoice) -> None:
        if invoice.due != invoice.total:
            return  # paid or credited meanwhile: billing refuses the void
        invoice.void_on, invoice.due = day, 0
        self.open.remove(invoice)
        self.world.fact(Fact(day, "void", self.customer, invoice=invoice))

    def credit_note(self, day: dt.date, subject: tuple[Invoice | None, int]) -> None:
        invoice, figure = subject
        if invoice is None:
            amount, applied = figure, 0
        elif invoice.void_on is not None:
            return
        else:
            amount = max(1, (invoice.total - invoice.credited) * figure // 100)
            applied = min(amount, invoice.due)  # the rest becomes credit, as in billing
            self.settle(invoice, applied, credited=True)
        note_id, number = new_id(self.rng), self.world.number("CN", day)
        if amount > applied:
            self.credit.append(["credit_note", note_id, amount - applied])
            self.maybe_refund(day)
        self.world.fact(
            Fact(
                day,
                "credit_note",
                self.customer,
                invoice=invoice,
                amount=amount,
                applied=applied,
                id=note_id,
                number=number,
            )
        )

    def pay(self, day: dt.date, instalments: list[tuple[Invoice, int]]) -> None:
        rng = self.rng
        parts: dict[str, tuple[Invoice, int]] = {}

        def allocate(invoice: Invoice, wanted: int) -> int:
            already = parts.get(invoice.id, (invoice, 0))[1]
            part = min(wanted, invoice.due - already)
            if part > 0:
                parts[invoice.id] = (invoice, already + part)
            return max(part, 0)

        amount = sum(allocate(invoice, wanted) for invoice, wanted in instalments)
        if amount == 0:
            return
        leftover = rng.randrange(100, 20_000) if rng.random() < 0.02 else 0  # paid too much
        amount += leftover
        for invoice in self.open:  # billing puts the excess on the oldest due first
            if leftover <= 0:
                break
            leftover -= allocate(invoice, leftover)
        for invoice, part in parts.values():
            self.settle(invoice, part)
        payment = Payment(
            new_id(rng),
            self.world.number("P", day),
            self.customer,
            day,
            amount,
            list(parts.values()),
        )
        self.world.fact(Fact(day, "payment", self.customer, payment=payment))
        if leftover > 0:
            self.credit.append(["payment", payment.id, leftover])
            self.maybe_refund(day)
        elif rng.random() < 0.007:  # bounced: reversed within weeks, then paid again
            self.plan(day + DAY * rng.randrange(3, 20), 4, "reverse", payment)

    def reverse(self, day: dt.date, payment: Payment) -> None:
        for invoice, part in payment.allocations:
            invoice.due += part
            invoice.paid -= part
            if invoice not in self.open:
                self.open.append(invoice)
        self.open.sort(key=lambda i: (i.issue_date, i.number))
        self.world.fact(Fact(day, "reversal", self.customer, payment=payment))
        for invoice, part in payment.allocations:
            again = self.payday_from(day + DAY * self.rng.randrange(5, 30))
            self.plan(again, 3, "pay", (invoice, part))

    def overdue(self, day: dt.date, invoice: Invoice) -> None:
        if invoice.due > 0 and invoice.void_on is None:
            self.world.fact(Fact(day, "overdue", self.customer, invoice=invoice))

    def use_credit(self, day: dt.date, invoice: Invoice) -> None:
        """Credit on the account pays a new invoice at once, as billing does on issue."""
        while self.credit and invoice.due > 0:
            kind, source_id, left = self.credit[0]
            part = min(left, invoice.due)
            self.settle(invoice, part)
            self.world.fact(
                Fact(
                    day,
                    "credit_use",
                    self.customer,
                    allocations=[(invoice, part)],
                    source=(kind, source_id),
                    amount=left - part,
                )
            )
            if part == left:
                self.credit.pop(0)
            else:
                self.credit[0][2] -= part

    def maybe_refund(self, day: dt.date) -> None:
        if self.rng.random() < 0.25:
            self.plan(day + DAY * self.rng.randrange(10, 40), 5, "refund", None)

    def refund(self, day: dt.date, _: Any) -> None:
        amount = sum(left for _, _, left in self.credit)
        if amount > 0:
            self.credit.clear()
            refund_id, number = new_id(self.rng), self.world.number("REF", day)
            self.world.fact(
                Fact(day, "refund", self.customer, amount=amount, id=refund_id, number=number)
            )

    def settle(self, invoice: Invoice, part: int, credited: bool = False) -> None:
        invoice.due -= part
        if credited:
            invoice.credited += part
        else:
            invoice.paid += part
        if invoice.due == 0 and invoice in self.open:
            self.open.remove(invoice)


class Simulation:
    def __init__(self, seed: int, end: dt.date) -> None:
        self.rng = random.Random(seed)
        self.end = end
        self.facts: list[Fact] = []
        self.invoices: list[Invoice] = []
        self.numbers: Counter[str] = Counter()

    def number(self, prefix: str, day: dt.date) -> str:
        series = f"{prefix}-{day.year}"
        self.numbers[series] += 1
        return f"{series}-{self.numbers[series]:06d}"

    def fact(self, fact: Fact) -> None:
        self.facts.append(fact)

    def invoice(self, customer: Customer, day: dt.date, net: int, tax: int) -> Invoice:
        invoice = Invoice(
            new_id(self.rng),
            self.number("INV", day),
            customer,
            day,
            day + DAY * customer.terms,
            net,
            tax,
            net + tax,
            due=net + tax,
        )
        self.invoices.append(invoice)
        return invoice


def simulate(
    customers: int, invoices: int, start: dt.date = START, end: dt.date = END, seed: int = 8
) -> History:
    """``customers`` customers joining over the first 60 % of [start, end], ``invoices``
    invoices among them (some customers buy much more than others), and all that follows."""
    world = Simulation(seed, end)
    rng, span = world.rng, (end - start).days
    habits = ["prompt"] * 50 + ["late"] * 30 + ["instalments"] * 15 + ["defaulter"] * 5
    people = [
        Customer(
            id=new_id(rng),
            number=f"C-{n + 1:06d}",
            name=f"Customer {n + 1:05d} Ltd",
            currency="EUR" if rng.random() < 0.95 else "USD",
            terms=rng.choice([14, 30, 30, 30, 45, 60]),
            habit=rng.choice(habits),
            created_on=start + DAY * rng.randrange(int(span * 0.6)),
            payday=rng.randrange(5),
        )
        for n in range(customers)
    ]
    weights = [rng.lognormvariate(0, 0.8) for _ in people]
    counts = Counter(rng.choices(range(customers), weights=weights, k=invoices))
    for n, customer in enumerate(people):
        days_open = (end - customer.created_on).days + 1
        days = sorted(
            customer.created_on + DAY * rng.randrange(days_open) for _ in range(counts[n])
        )
        CustomerLife(world, customer, days).live()
    world.facts.sort(key=lambda fact: fact.day)  # stable: a customer's own order stays
    return History(people, world.invoices, world.facts)


def describe(history: History) -> str:
    kinds = Counter(fact.kind for fact in history.facts)
    invoices = history.invoices
    void = sum(1 for i in invoices if i.void_on)
    owing = [i for i in invoices if i.due > 0]
    partly = sum(1 for i in owing if i.due < i.total)
    split = sum(
        1
        for f in history.facts
        if f.payment and f.kind == "payment" and len(f.payment.allocations) > 1
    )
    return (
        f"{len(history.customers)} customers, {len(invoices)} invoices "
        f"({len(invoices) - void - len(owing)} settled, {partly} partly paid, "
        f"{len(owing) - partly} unpaid, {void} void), {kinds['payment']} payments "
        f"({split} covering several invoices), {kinds['reversal']} reversed, "
        f"{kinds['credit_note']} credit notes, {kinds['credit_use']} uses of credit, "
        f"{kinds['refund']} refunds, {START} to {END}"
    )


# -- the read models, written directly -------------------------------------------------------


def read_model_rows(history: History) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table, row) for rp_customers, rp_invoices and rp_movements, as the projections would
    write them from the facts' events (the kept figures are left to the service's code)."""
    rng = random.Random(1)
    for customer in history.customers:
        row = {"id": customer.id, "name": customer.name, "currency": customer.currency}
        yield "rp_customers", {**row, "sequence": 1}
    for invoice in history.invoices:
        yield (
            "rp_invoices",
            {
                "id": invoice.id,
                "customer_id": invoice.customer.id,
                "number": invoice.number,
                "currency": invoice.customer.currency,
                "issue_date": invoice.issue_date,
                "due_date": invoice.due_date,
                "net_minor": invoice.net,
                "tax_minor": invoice.tax,
                "total_minor": invoice.total,
                "void_on": invoice.void_on,
            },
        )
    for fact in history.facts:
        # One event (id) per fact, a second for billing's part in a payment or reversal.
        first, second = new_id(rng), new_id(rng)
        if fact.kind == "invoice" and fact.invoice:
            yield movement(fact, first, "invoice", fact.invoice.total, fact.invoice)
        elif fact.kind == "void" and fact.invoice:
            yield movement(fact, first, "void", -fact.invoice.total, fact.invoice)
        elif fact.kind == "payment" and fact.payment:
            yield movement(fact, first, "payment", -fact.payment.amount)
            for invoice, part in fact.payment.allocations:
                yield movement(fact, second, "applied", -part, invoice)
        elif fact.kind == "credit_use":
            for invoice, part in fact.allocations:
                yield movement(fact, first, "applied", -part, invoice)
        elif fact.kind == "credit_note":
            yield movement(fact, first, "credit_note", -fact.amount)
            if fact.invoice and fact.applied:
                yield movement(fact, first, "applied", -fact.applied, fact.invoice)
        elif fact.kind == "reversal" and fact.payment:
            yield movement(fact, first, "reversal", fact.payment.amount)
            for invoice, part in fact.payment.allocations:
                yield movement(fact, second, "unapplied", part, invoice)
        elif fact.kind == "refund":
            yield movement(fact, first, "refund", fact.amount)


def movement(
    fact: Fact, event_id: str, kind: str, amount: int, invoice: Invoice | None = None
) -> tuple[str, dict[str, Any]]:
    return "rp_movements", {
        "event_id": event_id,
        "customer_id": fact.customer.id,
        "invoice_id": invoice.id if invoice else None,
        "kind": kind,
        "date": fact.day,
        "amount_minor": amount,
        "currency": fact.customer.currency,
    }


def load_read_models(db: Database, history: History) -> int:
    """COPY the rows in, then compute the kept figures with the service's own code."""
    tables: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for table, row in read_model_rows(history):
        tables[table].append(row)
    with db.engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for table, rows in tables.items():
            columns = list(rows[0])
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
    with db.unit_of_work() as uow:
        refresh_invoices(uow.session)
        refresh_balances(uow.session)
        uow.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        # Write the load out now rather than while the reports are timed (needs a superuser;
        # without, the timings may catch a checkpoint).
        with contextlib.suppress(DBAPIError):
            conn.execute(text("CHECKPOINT"))
    return len(tables["rp_movements"])


# -- the naive way and the comparison -----------------------------------------------------------


def read_everything(session: Any) -> tuple[list[Movement], list[ReportInvoice]]:
    """The naive way starts here: every movement and every invoice into Python."""
    movements = list(session.execute(select(Movement)).scalars())
    invoices = list(session.execute(select(ReportInvoice)).scalars())
    session.expunge_all()  # theirs to keep once the session ends
    return movements, invoices


def naive_aging(
    movements: list[Movement], invoices: list[ReportInvoice], as_of: dt.date
) -> dict[tuple[str, str], dict[str, int]]:
    """The buckets and the balance from the raw rows, one by one."""
    settled: dict[str, int] = defaultdict(int)
    figures: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys((*BUCKETS, "balance"), 0)
    )
    for movement in movements:
        if movement.date > as_of:
            continue
        if movement.kind in ("applied", "unapplied"):
            settled[str(movement.invoice_id)] += movement.amount_minor
        elif movement.kind in ACCOUNT_KINDS:
            figures[(movement.customer_id, movement.currency)]["balance"] += movement.amount_minor
    for invoice in invoices:
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
        figures[(invoice.customer_id, invoice.currency)][name] += due
    return {key: row for key, row in figures.items() if any(row.values())}


def report_figures(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, int]]:
    """The aging report's buckets and balance per customer, in minor units."""
    return {
        (item["customer_id"], item["currency"]): {
            name: to_minor(Decimal(item[name]), item["currency"]) for name in (*BUCKETS, "balance")
        }
        for item in report["items"]
    }


def timed(runs: int, work: Any) -> tuple[float, float]:
    """(p50, p99) in ms of ``runs`` calls of ``work`` after one to warm up."""
    work()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return percentile(timings, 0.5), percentile(timings, 0.99)


def measure(db: Database, dates: tuple[dt.date, ...], runs: int) -> None:
    """Per date: the buckets alone (what aged_dues sums in SQL) and the whole report (what
    GET /reports/aging computes before JSON), each in a unit of work of its own as a request
    has; then the naive way, and whether all three agree. (The naive way's 800,000 objects
    come last: alive, they would slow the reports' own Python down.)"""
    answers = {}
    for as_of in dates:

        def buckets_only(as_of: dt.date = as_of) -> Any:
            with db.unit_of_work() as uow:
                return aged_dues(uow, as_of, None)

        def whole_report(as_of: dt.date = as_of) -> Any:
            with db.unit_of_work() as uow:
                return aging(uow, as_of, None)

        sql50, sql99 = timed(runs, buckets_only)
        report50, report99 = timed(runs, whole_report)
        answers[as_of] = (buckets_only(), whole_report())
        print(
            f"as of {as_of}: buckets (SQL) p50 {sql50:.0f} ms / p99 {sql99:.0f} ms; whole "
            f"report p50 {report50:.0f} ms / p99 {report99:.0f} ms "
            f"({len(answers[as_of][1]['items'])} customers)",
            flush=True,
        )
    started = time.perf_counter()
    with db.unit_of_work() as uow:
        movements, invoices = read_everything(uow.session)
    read_ms = (time.perf_counter() - started) * 1000
    for as_of, (buckets, report) in answers.items():
        started = time.perf_counter()
        naive = naive_aging(movements, invoices, as_of)
        naive_ms = read_ms + (time.perf_counter() - started) * 1000
        same = report_figures(report) == naive and buckets == {
            key: {b: row[b] for b in BUCKETS}
            for key, row in naive.items()
            if any(row[b] for b in BUCKETS)
        }
        print(
            f"as of {as_of}: naive (reading {len(movements)} movements and {len(invoices)} "
            f"invoices, then adding up) {naive_ms:.0f} ms; same figures: {same}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    name = f"tameio_benchreporting_{uuid.uuid4().hex[:8]}"
    url = make_url(DATABASE).set(database=name).render_as_string(hide_password=False)
    settings = load_settings(
        "reporting", {"TAMEIO_REPORTING_DATABASE_URL": url, "TAMEIO_INTERNAL_SECRET": "x" * 32}
    )
    SERVICE.migrate(settings)
    db = SERVICE.database(settings)
    try:
        started = time.perf_counter()
        history = simulate(args.customers, args.invoices)
        print(describe(history))
        movements = load_read_models(db, history)
        del history  # its million objects would slow the measured Python down
        print(
            f"{movements} movements; generated and loaded in {time.perf_counter() - started:.0f} s"
        )
        measure(db, DATES, args.runs)
    finally:
        db.dispose()
        drop_database(DATABASE, name)


if __name__ == "__main__":
    main()
