"""The notifier under test: a real SMTP server on loopback, hand-built customer, invoice and
payment events as the customers and billing relays would publish them, and readers for
what a user or subscriber sees (API answers, rows, published events, received mail)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import email.policy
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from sqlalchemy import update

from services.notifier.delivery import deliver_due
from services.notifier.models import Notification
from shared.clock import utcnow
from shared.messaging.consumer import EventProcessor, Outcome
from shared.messaging.envelope import json_default
from shared.web.auth import IDENTITY_HEADER, Identity, sign_identity
from shared.web.client import register_local
from tests.support.events import body_of, customer_data, envelope
from tests.support.events import invoice_data as shared_invoice_data
from tests.support.harness import SECRET, ServiceUnderTest, wait_until
from tests.support.realmode import free_port

ISSUED = "billing.invoice.issued"
UPDATED = "billing.invoice.updated"
APPLIED = "billing.payment.applied"
SENT = "notifier.notification.sent"
FAILED = "notifier.notification.failed"
ISSUE_DAY = dt.date(2026, 1, 30)
DUE_DAY = dt.date(2026, 3, 1)


def new_id() -> str:
    return str(uuid.uuid4())


# -- a real SMTP server -------------------------------------------------------------------------


@dataclass
class Received:
    """One message as the SMTP server took it: envelope recipients and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None, "no text/plain part"
        return str(part.get_content())

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None, "no text/html part"
        return str(part.get_content())


@dataclass
class Mailbox:
    """aiosmtpd handler that keeps every message it accepts; ``delay`` slows each DATA."""

    delay: float = 0.0
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """An SMTP server on a loopback port, started and stopped by the test."""

    def __init__(self, port: int | None = None, delay: float = 0.0) -> None:
        self.port = port or free_port()
        self.mailbox = Mailbox(delay=delay)
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.running = False

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        return self.mailbox.received

    def start(self) -> SmtpServer:
        self.controller.start()
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self.controller.stop()
            self.running = False

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        wait_until(
            lambda: len(self.received) >= count,
            timeout=timeout,
            what=lambda: f"{count} messages at the SMTP server, got {len(self.received)}",
        )
        return self.received


@contextmanager
def smtp_server(port: int | None = None, delay: float = 0.0) -> Iterator[SmtpServer]:
    server = SmtpServer(port, delay).start()
    try:
        yield server
    finally:
        server.stop()


def closed_port_url() -> str:
    """An SMTP URL where nothing listens: connections are refused."""
    return f"smtp://127.0.0.1:{free_port()}"


# -- events as the customers and billing relays publish them ------------------------------------


def invoice_data(
    customer_id: str,
    number: str,
    total: str = "100.00",
    *,
    due_date: dt.date = DUE_DAY,
    bill_to_email: str | None = "billing@acme.test",
    **changes: Any,
) -> dict[str, Any]:
    """The whole invoice as billing.invoice.issued / .updated carry it (one zero-rated line)."""
    return shared_invoice_data(
        customer_id,
        number,
        total,
        issue_date=ISSUE_DAY,
        due_date=due_date,
        bill_to_email=bill_to_email,
        **changes,
    )


class Notifier:
    """The notifier service under test, fed hand-built events and called as any role."""

    def __init__(self, sut: ServiceUnderTest, billing_up: bool = True) -> None:
        self.sut = sut
        self.processor = EventProcessor(sut.db, sut.definition.handlers)
        self.sequences: dict[str, int] = {}
        self.invoice_numbers = 0
        # As billing would answer them now: invoices and credit notes as the latest event
        # about them said, each customer's unapplied credit as a test sets it.
        self.invoices: dict[str, dict[str, Any]] = {}
        self.credit_notes: dict[str, dict[str, Any]] = {}
        self.credit: dict[str, str] = {}
        self.billing_requests: list[str] = []
        if billing_up:
            register_local("billing", self.billing_app)

    def billing_app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        """Billing as notifier asks it when it sends an email: an invoice or credit note
        with a stand-in PDF (``include=pdf``), or an account with the invoices named."""
        path, query = environ["PATH_INFO"], parse_qs(environ.get("QUERY_STRING", ""))
        self.billing_requests.append(path)
        kind, _, key = path.strip("/").partition("/")
        if kind == "accounts":
            wanted = [self.invoices.get(i) for i in query.get("invoice_id", [])]
            if None in wanted:
                return _answer(start_response, 422, {"errors": {"invoice_id": ["unknown"]}})
            if key:
                return _answer(start_response, 200, self.account(key, wanted))
            accounts = [  # GET /accounts: each customer asked for with its own invoices
                self.account(c, [i for i in wanted if i and i["customer_id"] == c])
                for c in dict.fromkeys(query.get("customer_id", []))
            ]
            return _answer(start_response, 200, {"items": accounts})
        document = (self.invoices if kind == "invoices" else self.credit_notes).get(key)
        if document is None or query.get("include") != ["pdf"]:
            return _answer(start_response, 404, {"status": 404})
        pdf = f"%PDF-1.7 {document['number']} due {document.get('amount_due')}".encode()
        return _answer(start_response, 200, {**document, "pdf": base64.b64encode(pdf).decode()})

    def account(self, customer_id: str, invoices: list[Any]) -> dict[str, Any]:
        credit = self.credit.get(customer_id, "0.00")
        return {"customer_id": customer_id, "unapplied_credit": credit, "invoices": invoices}

    # -- feeding events -------------------------------------------------------------------

    def feed(
        self, event_type: str, subject: str, data: dict[str, Any], source: str
    ) -> dict[str, Any]:
        """Deliver one new event as the source's relay would; it must apply. Returns it."""
        sequence = self.sequences.get(subject, 0) + 1
        self.sequences[subject] = sequence
        if event_type in (ISSUED, UPDATED):
            self.invoices[data["id"]] = data
        if event_type == "billing.credit_note.issued":
            self.credit_notes[data["id"]] = data
        # billing.invoice.updated in version 2, the one notifier reads (version 1 goes out
        # beside it only for outside subscribers)
        version = 2 if event_type == UPDATED else 1
        sent = envelope(event_type, subject, sequence, data, source=source, version=version)
        self.process(sent, expect=Outcome.APPLIED)
        return sent

    def process(self, sent: dict[str, Any], expect: Outcome) -> None:
        outcome = self.processor.process(body_of(sent))
        assert outcome is expect, (outcome, self.sut.rows(self.sut.db.tables.dead_letters))

    def customer(self, **fields: Any) -> dict[str, Any]:
        """customers.customer.created; by default with email ap@acme.test and reminders on."""
        data = customer_data(**fields)
        self.feed("customers.customer.created", data["id"], data, "customers")
        return data

    def customer_updated(self, customer: dict[str, Any], **changes: Any) -> dict[str, Any]:
        data = {**customer, **changes, "version": customer["version"] + 1}
        self.feed("customers.customer.updated", data["id"], data, "customers")
        return data

    def invoice(self, customer: dict[str, Any], total: str = "100.00", **changes: Any) -> Any:
        """billing.invoice.issued for a new open invoice; returns the invoice data."""
        self.invoice_numbers += 1
        number = f"INV-2026-{self.invoice_numbers:06d}"
        data = invoice_data(customer["id"], number, total, **changes)
        self.feed(ISSUED, data["id"], data, "billing")
        return data

    def invoice_updated(self, invoice: dict[str, Any], **changes: Any) -> dict[str, Any]:
        data = {**invoice, **changes, "version": invoice["version"] + 1}
        self.feed(UPDATED, data["id"], data, "billing")
        return data

    def paid(self, invoice: dict[str, Any], amount: str, payment_id: str) -> dict[str, Any]:
        """billing.invoice.updated after ``amount`` of ``payment_id`` was applied to it."""
        paid = _add(invoice["amount_paid"], amount)
        due = _sub(invoice["amount_due"], amount)
        return self.invoice_updated(
            invoice,
            amount_paid=paid,
            amount_due=due,
            status="paid" if due == "0.00" else "partially_paid",
            payments=[*invoice["payments"], {"payment_id": payment_id, "amount": amount}],
        )

    def payment_applied(
        self,
        customer: dict[str, Any],
        allocations: list[tuple[dict[str, Any], str]],
        unapplied: str = "0.00",
        *,
        payment_id: str | None = None,
        from_credit: bool = False,
    ) -> dict[str, Any]:
        """billing.payment.applied (``from_credit``: leftover credit of an earlier payment),
        after the invoice.updated billing emits first for each invoice it touched. Returns
        the event envelope."""
        payment_id = payment_id or new_id()
        for invoice, amount in allocations:
            self.paid(invoice, amount, payment_id)
        data = {
            "payment_id": payment_id,
            "customer_id": customer["id"],
            "allocations": [{"invoice_id": i["id"], "amount": a} for i, a in allocations],
            "unapplied_amount": unapplied,
            "currency": "EUR",
            "date": "2026-03-05",
            "from_credit": from_credit,
        }
        return self.feed(APPLIED, payment_id, data, "billing")

    # -- delivery -------------------------------------------------------------------------

    def deliver(self) -> int:
        """One pass of the worker's delivery loop; returns how many it tried."""
        return deliver_due(self.sut.db, self.sut.settings)

    def make_due(self, **values: Any) -> None:
        """Move every notification's next attempt into the past (time passes), plus ``values``."""
        with self.sut.db.engine.begin() as conn:
            conn.execute(
                update(Notification).values(
                    next_attempt_at=utcnow() - dt.timedelta(seconds=1), **values
                )
            )

    # -- what a user or subscriber sees ---------------------------------------------------

    def client(self, role: str = "admin") -> Any:
        return self.sut.client(role=role)

    def notifications(self, **query: Any) -> list[dict[str, Any]]:
        answer = self.client("viewer").get("/notifications", query_string=query)
        assert answer.status_code == 200, answer.get_json()
        return list(answer.get_json()["items"])

    def only_notification(self, **query: Any) -> dict[str, Any]:
        (notification,) = self.notifications(**query)
        return notification

    def rows(self) -> list[Notification]:
        with self.sut.db.unit_of_work() as uow:
            rows = list(uow.session.query(Notification).order_by(Notification.created_at))
            uow.session.expunge_all()
        return rows

    def events(self, event_type: str) -> list[dict[str, Any]]:
        """Envelopes of ``event_type`` in notifier's outbox, oldest first."""
        return [
            json.loads(row.payload) for row in self.sut.outbox() if row.event_type == event_type
        ]

    def put_policy(self, levels: list[tuple[int, int, str]], role: str = "admin") -> Any:
        body = {"levels": [{"level": a, "days_after_due": b, "template": c} for a, b, c in levels]}
        return put_json(self.sut, "/policy", body, role)

    def run(self, as_of: dt.date | str) -> dict[str, Any]:
        """POST /reminders/run as an admin; returns the answer."""
        answer = self.client().post("/reminders/run", json={"as_of": str(as_of)})
        assert answer.status_code == 200, answer.get_json()
        return dict(answer.get_json())


def _answer(start_response: Any, status: int, body: Any) -> list[bytes]:
    start_response(f"{status} X", [("Content-Type", "application/json")])
    return [json.dumps(body, default=json_default).encode()]


def put_json(sut: ServiceUnderTest, path: str, body: Any, role: str = "admin") -> Any:
    """PUT as the gateway would call (the shared SignedClient has no put)."""
    headers = {IDENTITY_HEADER: sign_identity(SECRET, Identity(subject="tester", role=role))}
    return sut.app.test_client().put(path, json=body, headers=headers)


def _add(a: str, b: str) -> str:
    return str(Decimal(a) + Decimal(b))


def _sub(a: str, b: str) -> str:
    return str(Decimal(a) - Decimal(b))
