"""The fault proof's tools: a stream of business through the gateway that survives faults
as a careful client does (retrying with the same Idempotency-Key), an SMTP server that can
be taken away, and the full reconciliation every fault test ends with.
"""

from __future__ import annotations

import contextlib
import email
import hashlib
import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import Message
from typing import Any

import pika
import urllib3
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, pool, text

from services.registry import SERVICES
from tests.support.gateway import FLAT, Gateway
from tests.support.harness import wait_until
from tests.support.realmode import RealSuite, free_port
from tests.support.subscriber import pika_url

CONSUMING = [name for name, definition in SERVICES.items() if definition.queue.bindings]
RECONCILE_WITHIN = 60.0  # seconds for the suite to settle after a fault has ended


class SmtpCatcher:
    """A real SMTP server on loopback that keeps what it receives and can be stopped and
    started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self.controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def message_ids(self) -> Counter[str]:
        with self._lock:
            return Counter(str(m["Message-ID"]).strip("<>") for m in self.messages)


@dataclass
class Poisoned:
    """What the tests published to be parked: every body (by MD5), and how many copies of
    each a service must have parked (those no consumer can read at all)."""

    sent: set[str] = field(default_factory=set)
    must: Counter[tuple[str, str]] = field(default_factory=Counter)

    def published(self, body: bytes, services: list[str], unreadable: bool) -> None:
        digest = hashlib.md5(body).hexdigest()
        self.sent.add(digest)
        if unreadable:
            for service in services:
                self.must[(service, digest)] += 1


@dataclass
class Book:
    """The customers and invoices one fault test works with, and the payments it makes."""

    api: Gateway
    customers: list[str] = field(default_factory=list)
    invoices: dict[str, list[str]] = field(default_factory=dict)
    payments: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, api: Gateway, customers: int = 4, invoices: int = 2) -> Book:
        book = cls(api)
        deadline = time.monotonic() + 60
        lines = [{"sku": FLAT, "quantity": 1}]
        for _ in range(customers):
            name = f"Fault {uuid.uuid4().hex[:6]} SA"
            email_address = f"{uuid.uuid4().hex[:10]}@ex.test"
            body = {"name": name, "currency": "EUR", "email": email_address}
            customer = careful_post(api, "customers/customers", body, deadline)["id"]
            book.customers.append(customer)
            book.invoices[customer] = [
                careful_post(
                    api, "billing/invoices", {"customer_id": customer, "lines": lines}, deadline
                )["id"]
                for _ in range(invoices)
            ]
        return book

    def pay(self, customer: str, amount: str, deadline: float) -> dict[str, Any]:
        """Record a payment as a careful client does (see :func:`careful_post`)."""
        body = {
            "customer_id": customer,
            "amount": amount,
            "currency": "EUR",
            "method": "bank_transfer",
        }
        payment = careful_post(self.api, "payments/payments", body, deadline)
        with self._lock:
            self.payments.append(payment)
        return payment

    def stream(self, count: int, amount: str = "30.00", seconds: float = 90.0) -> list[Any]:
        """``count`` payments spread over the customers, four clients at a time."""
        deadline = time.monotonic() + seconds
        targets = itertools.islice(itertools.cycle(self.customers), count)
        with ThreadPoolExecutor(4) as pool_:
            return list(pool_.map(lambda c: self.pay(c, amount, deadline), targets))

    @contextlib.contextmanager
    def streaming(self, count: int, amount: str = "30.00") -> Iterator[None]:
        """Payments flow in the background while the block (the fault) runs."""
        failures: list[BaseException] = []

        def run() -> None:
            try:
                self.stream(count, amount)
            except BaseException as exc:  # reported when the block ends
                failures.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            thread.join(120)
        assert not thread.is_alive(), "the payment stream did not finish"
        if failures:
            raise failures[0]


def gateway_with_items(suite: RealSuite) -> Gateway:
    """The suite's API, with the flat-fee item every fault test invoices."""
    gateway = Gateway(suite.base)
    gateway.post(
        "contracts/items",
        {
            "sku": FLAT,
            "name": "Flat fee",
            "unit_price": "100.00",
            "currency": "EUR",
            "tax_code": "zero",
        },
    )
    return gateway


def careful_post(api: Gateway, path: str, body: Any, deadline: float) -> dict[str, Any]:
    """Create something as a careful client does: on a failure that means "not now" (the
    gateway's 503, a refused or dropped connection) try again with the same
    Idempotency-Key until ``deadline``. Any other answer but 201 fails the test."""
    key = str(uuid.uuid4())
    last: Any = None
    while time.monotonic() < deadline:
        try:
            answer = api.call("POST", path, body, headers={"Idempotency-Key": key})
        except urllib3.exceptions.HTTPError as exc:
            last = exc
        else:
            if answer.status == 201:
                return dict(answer.json())
            last = (answer.status, answer.headers.get("Content-Type"), answer.data[:300])
            # 409 while the first attempt with this key is still being recorded.
            assert answer.status in (409, 502, 503, 504), last
            assert str(last[1]).startswith("application/problem+json"), last
        time.sleep(0.3)
    raise AssertionError(f"POST {path} {body} never accepted: {last}")


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _all(api: Gateway, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        joiner = "&" if "?" in path else "?"
        page = api.get(f"{path}{joiner}limit=200" + (f"&cursor={cursor}" if cursor else ""))
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def database_counts(suite: RealSuite, sql: str) -> dict[str, int]:
    counts = {}
    for service in SERVICES:
        engine = create_engine(suite.database_url(service), poolclass=pool.NullPool)
        try:
            with engine.connect() as conn:
                counts[service] = int(conn.execute(text(sql)).scalar() or 0)
        finally:
            engine.dispose()
    return counts


def queue_depths(suite: RealSuite, amqp_url: str) -> dict[str, int]:
    connection = pika.BlockingConnection(pika.URLParameters(pika_url(amqp_url)))
    try:
        channel = connection.channel()
        return {
            service: channel.queue_declare(
                f"{suite.prefix}{service}.events", passive=True
            ).method.message_count
            for service in CONSUMING
        }
    finally:
        connection.close()


def customer_mismatches(api: Gateway, customer: str, reporting: dict[str, Any]) -> list[str]:
    """What does not reconcile for one customer (empty when everything does)."""
    wrong = []
    payments = _all(api, f"payments/payments?customer_id={customer}")
    live = [p for p in payments if p["status"] != "reversed"]
    if any(p["status"] != "applied" for p in live):
        return [f"payments not applied yet: {[p['status'] for p in live]}"]
    paid = sum((_money(p["amount"]) for p in live), Decimal(0))
    allocated = sum((_money(a["amount"]) for p in live for a in p["allocations"]), Decimal(0))
    unapplied = sum((_money(p["unapplied_amount"]) for p in live), Decimal(0))
    if paid != allocated + unapplied:
        wrong.append(f"payments {paid} != applied {allocated} + unapplied {unapplied}")
    account = api.account(customer)
    invoices = _all(api, f"billing/invoices?customer_id={customer}")
    open_due = sum((_money(i["amount_due"]) for i in invoices), Decimal(0))
    balance, credit = _money(account["balance"]), _money(account["unapplied_credit"])
    if balance != open_due - credit:
        wrong.append(f"balance {balance} != amounts due {open_due} - credit {credit}")
    if credit != unapplied:
        wrong.append(f"billing's credit {credit} != payments' unapplied {unapplied}")
    ledger = _all(api, f"billing/accounts/{customer}/transactions")
    if ledger and _money(ledger[-1]["balance_after"]) != balance:
        wrong.append(f"ledger ends at {ledger[-1]['balance_after']}, balance is {balance}")
    billed = Counter(
        (p["payment_id"], _money(p["amount"])) for i in invoices for p in i["payments"]
    )
    recorded = Counter((p["id"], _money(a["amount"])) for p in live for a in p["allocations"])
    if billed != recorded:
        wrong.append(f"billing's allocations {billed} != payments' {recorded}")
    seen = _money(reporting.get(customer, {}).get("balance", "0"))
    if seen != balance:
        wrong.append(f"reporting's balance {seen} != billing's {balance}")
    notices = _all(api, f"notifier/notifications?customer_id={customer}")
    noticed = Counter(n["payment_id"] for n in notices if n.get("payment_id"))
    if noticed != Counter(p["id"] for p in live):
        wrong.append(f"payment notices {dict(noticed)} for payments {[p['id'] for p in live]}")
    issued = sum(1 for n in notices if n["kind"] == "invoice_issued")
    if issued != len(invoices):
        wrong.append(f"{issued} invoice emails for {len(invoices)} invoices")
    if any(n["status"] in ("queued", "sending") for n in notices):
        wrong.append("notices still waiting to be delivered")
    return wrong


def parked_bodies(suite: RealSuite) -> Counter[tuple[str, str]]:
    """(service, MD5 of the body) of every dead letter in the suite."""
    found: Counter[tuple[str, str]] = Counter()
    for service in SERVICES:
        engine = create_engine(suite.database_url(service), poolclass=pool.NullPool)
        try:
            with engine.connect() as conn:
                for (digest,) in conn.execute(text("SELECT md5(body) FROM dead_letters")):
                    found[(service, digest)] += 1
        finally:
            engine.dispose()
    return found


def reconcile(
    suite: RealSuite,
    api: Gateway,
    amqp_url: str,
    customers: list[str],
    poisoned: Poisoned,
    smtp: SmtpCatcher | None = None,
) -> None:
    """The full reconciliation: money on every side, notices once each, nothing waiting in
    a queue or an outbox, and nothing parked but the poison the tests sent."""
    report: list[str] = []

    def settled() -> bool:
        report.clear()
        outstanding = {
            item["customer_id"]: item for item in api.get("reporting/reports/outstanding")["items"]
        }
        for customer in customers:
            wrong = customer_mismatches(api, customer, outstanding)
            report.extend(f"{customer}: {m}" for m in wrong)
        depths = {k: v for k, v in queue_depths(suite, amqp_url).items() if v}
        if depths:
            report.append(f"queues not empty: {depths}")
        backlog = {
            k: v
            for k, v in database_counts(
                suite, "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            ).items()
            if v
        }
        if backlog:
            report.append(f"outboxes not empty: {backlog}")
        letters = parked_bodies(suite)
        strangers = {key: n for key, n in letters.items() if key[1] not in poisoned.sent}
        if strangers:
            report.append(f"parked, though not poison: {strangers}")
        missing = {key: n for key, n in poisoned.must.items() if letters[key] != n}
        if missing:
            report.append(f"poison not parked exactly once per copy: {missing}")
        if smtp is not None:
            twice = {k: v for k, v in smtp.message_ids().items() if v > 1}
            if twice:
                report.append(f"emails sent more than once: {twice}")
        return not report

    wait_until(settled, timeout=RECONCILE_WITHIN, interval=1.0, what=lambda: "\n".join(report[:20]))
