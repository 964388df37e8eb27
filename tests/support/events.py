"""Building events and reading service databases, for the messaging tests."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pika
import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy import func, select

from services.billing.handlers import HANDLERS as BILLING_HANDLERS
from services.billing.models import customer_replica
from services.customers.domain import customer_number
from services.customers.models import Customer
from shared.clock import isoformat, utcnow
from shared.db import UnitOfWork
from shared.messaging import Event
from shared.messaging.envelope import to_json
from tests.support.harness import ServiceUnderTest
from tests.support.subscriber import pika_url

TRANSPORTS = pytest.mark.parametrize(
    "embedded", [False, True], ids=["rabbitmq+postgres", "memory+sqlite"]
)
CREATED = "customers.customer.created"
UPDATED = "customers.customer.updated"


# -- building events ------------------------------------------------------------------------


def customer_data(customer_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """Data of a customers.customer.created/updated snapshot (Python values, as emitted)."""
    now = utcnow()
    data = {
        "id": customer_id or str(uuid.uuid4()),
        "number": "C-000001",
        "name": "Acme Ltd",
        "email": "ap@acme.test",
        "phone": None,
        "billing_address": None,
        "payment_terms": "net_30",
        "currency": "EUR",
        "tax_id": None,
        "credit_limit": None,
        "reminders_enabled": True,
        "notes": None,
        "status": "active",
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    return {**data, **changes}


def envelope(
    event_type: str, subject: str, sequence: int, data: dict[str, Any], **changes: Any
) -> dict[str, Any]:
    """A hand-built envelope as another service's relay would publish it."""
    event_id = str(uuid.uuid4())
    return {
        "id": event_id,
        "type": event_type,
        "version": 1,
        "occurred_at": isoformat(utcnow()),
        "source": "customers",
        "subject": subject,
        "sequence": sequence,
        "correlation_id": event_id,
        "causation_id": None,
        "data": data,
        **changes,
    }


def body_of(value: dict[str, Any]) -> str:
    """The message body a relay would send for ``value``."""
    return to_json(value)


def new_customer(uow: UnitOfWork, name: str) -> Customer:
    """A customers row added to ``uow`` (not committed), as the API would add it."""
    seq = uow.next_number("customer_number")
    now = utcnow()
    customer = Customer(
        id=uuid.uuid4(),
        seq=seq,
        number=customer_number(seq),
        name=name,
        search_text=name.lower(),
        payment_terms="net_30",
        currency="EUR",
        reminders_enabled=True,
        status="active",
        created_at=now,
        updated_at=now,
    )
    uow.session.add(customer)
    uow.session.flush()
    return customer


# -- the broker, from outside -----------------------------------------------------------------


def publish_raw(sut: ServiceUnderTest, body: str | bytes, routing_key: str) -> None:
    """Publish one message to the test's exchange as an outside system would: plain AMQP
    (pika) on RabbitMQ, a kombu producer on the in-process memory broker."""
    raw = body.encode() if isinstance(body, str) else body
    broker, exchange = sut.settings.broker_url, sut.settings.exchange
    if broker.startswith("memory://"):
        with Connection("memory://") as conn:
            producer = conn.Producer(exchange=Exchange(exchange, type="topic", durable=True))
            producer.publish(
                raw,
                routing_key=routing_key,
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                retry=False,
            )
        return
    connection = pika.BlockingConnection(pika.URLParameters(pika_url(broker)))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            exchange,
            routing_key,
            raw,
            properties=pika.BasicProperties(
                content_type="application/json", delivery_mode=2, type=routing_key
            ),
            mandatory=True,
        )
    finally:
        connection.close()


class MemoryListener:
    """An outside listener on the memory broker: a queue bound to the exchange with '#'."""

    def __init__(self, exchange: str, name: str) -> None:
        self.connection = Connection("memory://")
        queue = Queue(name, Exchange(exchange, type="topic", durable=True), routing_key="#")
        self.queue = queue(self.connection.default_channel)
        self.queue.declare()
        self.received: list[tuple[str, dict[str, Any]]] = []

    def collect(self, count: int, timeout: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} messages, got {len(self.received)}")
            message = self.queue.get(no_ack=True)
            if message is None:
                time.sleep(0.05)
                continue
            routing_key = message.delivery_info["routing_key"]
            self.received.append((routing_key, json.loads(message.body)))
        return self.received

    def close(self) -> None:
        self.queue.delete()
        self.connection.release()


# -- reading a service's database -------------------------------------------------------------


def count(sut: ServiceUnderTest, table: Any, *where: Any) -> int:
    with sut.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


def replica(sut: ServiceUnderTest, customer_id: str) -> Any:
    with sut.db.engine.connect() as conn:
        return conn.execute(
            select(customer_replica).where(customer_replica.c.id == customer_id)
        ).first()


def retry_rows(sut: ServiceUnderTest) -> list[Any]:
    return sut.rows(sut.db.tables.retries)


def dead_letter_rows(sut: ServiceUnderTest) -> list[Any]:
    return sut.rows(sut.db.tables.dead_letters)


def listed_dead_letters(sut: ServiceUnderTest, **query: str) -> list[dict[str, Any]]:
    answer = sut.client(role="admin").get("/admin/dead-letters", query_string=query)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


class FailsFirst:
    """A handler that raises ``error()`` on its first ``times`` calls, then does ``then``."""

    def __init__(
        self,
        times: int,
        error: Callable[[], Exception],
        then: Callable[[UnitOfWork, Event], None],
    ) -> None:
        self.times = times
        self.error = error
        self.then = then
        self.calls = 0

    def __call__(self, uow: UnitOfWork, event: Event) -> None:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error()
        self.then(uow, event)


apply_customer_snapshot = BILLING_HANDLERS[CREATED]


def invoice_data(
    customer_id: str,
    number: str,
    total: str = "100.00",
    *,
    currency: str = "EUR",
    issue_date: dt.date,
    due_date: dt.date,
    bill_to_email: str | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """The whole invoice as billing.invoice.issued / .updated carry it (one zero-rated line)."""
    now = utcnow()
    line = {
        "sku": "FLAT",
        "description": "Flat fee",
        "quantity": "1",
        "unit_price": total,
        "discount_percent": "0.00",
        "net_amount": total,
        "tax_rate": "0.00",
        "tax_amount": "0.00",
        "tax_note": None,
    }
    data = {
        "id": str(uuid.uuid4()),
        "number": number,
        "customer_id": customer_id,
        "status": "open",
        "currency": currency,
        "date": issue_date.isoformat(),
        "issue_date": issue_date.isoformat(),
        "due_date": due_date.isoformat(),
        "bill_to": {
            "name": "Acme Ltd",
            "email": bill_to_email,
            "tax_id": None,
            "billing_address": None,
        },
        "contract_id": None,
        "lines": [line],
        "subtotal": total,
        "tax_total": "0.00",
        "total": total,
        "amount_paid": "0.00",
        "amount_credited": "0.00",
        "amount_due": total,
        "overdue": False,
        "days_overdue": 0,
        "payments": [],
        "paid_on": None,
        "notes": None,
        "void_reason": None,
        "version": 1,
        "created_at": now,
        "issued_at": now,
        "voided_at": None,
        "updated_at": now,
    }
    return {**data, **changes}


def company_data(version: int = 1, **changes: Any) -> dict[str, Any]:
    """Data of a billing.company.updated snapshot: a Greek seller with a bank account."""
    return {
        "name": "Tameio Demo ΑΕ",
        "address": {
            "line1": "Λεωφόρος Κηφισίας 44",
            "line2": None,
            "city": "Αθήνα",
            "postal_code": "11526",
            "region": None,
            "country": "GR",
        },
        "tax_id": "EL999888777",
        "email": "accounts@demo.test",
        "reply_to": "help@demo.test",
        "phone": "+30 210 1234567",
        "iban": "GR1601101250000000012300695",
        "bic": "ETHNGRAA",
        "payment_instructions": "Bank transfer within the due date.",
        "language": "en",
        "version": version,
        "updated_at": isoformat(utcnow()),
        **changes,
    }


def company_event(sequence: int = 1, **changes: Any) -> dict[str, Any]:
    """billing.company.updated as billing's relay publishes it."""
    data = company_data(sequence, **changes)
    return envelope("billing.company.updated", "company", sequence, data, source="billing")
