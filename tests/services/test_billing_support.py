"""The billing test kit: feeds billing the events it learns from (customers, items,
contracts, tax rates, payments, reversals, refunds) and reads its answers, rows and outbox.

Named test_billing_*.py only so it lives beside the billing tests; it holds no tests.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from services.billing.models import LedgerEntry
from shared.clock import utcnow
from shared.messaging.consumer import EventProcessor, Outcome
from shared.web.client import forget_local, register_local
from tests.support.events import body_of, customer_data, envelope
from tests.support.harness import ServiceUnderTest

DAY = dt.date(2026, 3, 2)


def money(value: Any) -> Decimal:
    return Decimal(str(value))


def new_id() -> str:
    return str(uuid.uuid4())


def _answers_404(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("404 NOT FOUND", [("Content-Type", "application/problem+json")])
    return [b'{"status": 404, "title": "Not found"}']


@contextmanager
def owners_know_nothing() -> Iterator[None]:
    """On a replica miss billing asks customers and contracts; here both answer 404, as
    they would for something that exists nowhere (billing must then say 422 / 404)."""
    register_local("customers", _answers_404)
    register_local("contracts", _answers_404)
    try:
        yield
    finally:
        forget_local("customers")
        forget_local("contracts")


class Billing:
    """Billing under test, fed by hand-built events and called as a clerk (or any role)."""

    def __init__(self, sut: ServiceUnderTest) -> None:
        self.sut = sut
        self.processor = EventProcessor(sut.db, sut.definition.handlers)
        self.sequences: dict[str, int] = {}
        self.payment_numbers = 0

    # -- feeding events -------------------------------------------------------------------

    def feed(self, event_type: str, subject: str, data: dict[str, Any], source: str) -> Outcome:
        """Deliver one event as the source's relay would; returns what billing did with it."""
        sequence = self.sequences[subject] = self.sequences.get(subject, 0) + 1
        return self.deliver(body_of(envelope(event_type, subject, sequence, data, source=source)))

    def deliver(self, body: str) -> Outcome:
        return self.processor.process(body)

    def retry_now(self) -> int:
        """Make every scheduled retry due and run them; returns how many ran."""
        retries = self.sut.db.tables.retries
        with self.sut.db.engine.begin() as conn:
            conn.execute(update(retries).values(due_at=utcnow() - dt.timedelta(seconds=1)))
        return self.processor.run_due_retries()

    def customer(self, customer_id: str | None = None, **fields: Any) -> str:
        data = customer_data(customer_id, **fields)
        outcome = self.feed("customers.customer.created", data["id"], data, "customers")
        assert outcome is Outcome.APPLIED
        return str(data["id"])

    def customer_updated(self, customer_id: str, **fields: Any) -> None:
        data = customer_data(customer_id, **fields)
        assert self.feed("customers.customer.updated", customer_id, data, "customers") is (
            Outcome.APPLIED
        )

    def customer_archived(self, customer_id: str) -> None:
        data = {
            "customer_id": customer_id,
            "customer": customer_data(customer_id, status="archived"),
        }
        assert self.feed("customers.customer.archived", customer_id, data, "customers") is (
            Outcome.APPLIED
        )

    def item(
        self, sku: str, unit_price: str, tax_code: str = "standard", currency: str = "EUR"
    ) -> None:
        data = {
            "sku": sku,
            "name": f"Item {sku}",
            "unit_price": unit_price,
            "currency": currency,
            "tax_code": tax_code,
            "active": True,
        }
        assert self.feed("contracts.item.created", sku, data, "contracts") is Outcome.APPLIED

    def contract(
        self,
        customer_id: str,
        *,
        valid_from: dt.date,
        valid_to: dt.date | None = None,
        discount_percent: str = "0.00",
        tax_treatment: dict[str, Any] | None = None,
        prices: dict[str, str] | None = None,
    ) -> str:
        contract_id = new_id()
        data = {
            "id": contract_id,
            "customer_id": customer_id,
            "name": "Framework agreement",
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat() if valid_to else None,
            "discount_percent": discount_percent,
            "tax_treatment": tax_treatment or {"type": "standard", "rate": None, "note": None},
            "prices": [{"sku": s, "unit_price": p} for s, p in (prices or {}).items()],
            "currency": "EUR",
            "status": "active",
            "terminated_on": None,
        }
        outcome = self.feed("contracts.contract.activated", contract_id, data, "contracts")
        assert outcome is Outcome.APPLIED
        return contract_id

    def tax_rates(self, **rates: str) -> None:
        data = {"rates": rates}
        assert self.feed("contracts.tax_rates.updated", "tax-rates", data, "contracts") is (
            Outcome.APPLIED
        )

    def payment_body(
        self,
        customer_id: str,
        amount: str,
        *,
        on: dt.date = DAY,
        allocations: list[tuple[str, str]] = (),  # type: ignore[assignment]
        invoice_id: str | None = None,
        payment_id: str | None = None,
        currency: str = "EUR",
    ) -> tuple[str, dict[str, Any]]:
        self.payment_numbers += 1
        payment_id = payment_id or new_id()
        return payment_id, {
            "id": payment_id,
            "number": f"P-{self.payment_numbers:06d}",
            "customer_id": customer_id,
            "amount": amount,
            "currency": currency,
            "method": "bank_transfer",
            "reference": None,
            "received_on": on.isoformat(),
            "date": on.isoformat(),
            "allocations": [{"invoice_id": i, "amount": a} for i, a in allocations],
            "invoice_id": invoice_id,
            "status": "received",
        }

    def pay(self, customer_id: str, amount: str, **options: Any) -> str:
        """payments.payment.received, which must apply; returns the payment id."""
        payment_id, data = self.payment_body(customer_id, amount, **options)
        outcome = self.feed("payments.payment.received", payment_id, data, "payments")
        assert outcome is Outcome.APPLIED
        return payment_id

    def reversal_body(self, payment_id: str, customer_id: str, on: dt.date = DAY) -> dict[str, Any]:
        return {
            "payment_id": payment_id,
            "customer_id": customer_id,
            "reason": "bounced",
            "date": on.isoformat(),
        }

    def reverse(self, payment_id: str, customer_id: str, on: dt.date = DAY) -> Outcome:
        data = self.reversal_body(payment_id, customer_id, on)
        return self.feed("payments.payment.reversed", payment_id, data, "payments")

    def refund(self, customer_id: str, amount: str, on: dt.date = DAY) -> Outcome:
        refund_id = new_id()
        data = {
            "id": refund_id,
            "number": "R-000001",
            "customer_id": customer_id,
            "amount": amount,
            "currency": "EUR",
            "method": "bank_transfer",
            "reference": None,
            "date": on.isoformat(),
            "status": "issued",
        }
        return self.feed("payments.refund.issued", refund_id, data, "payments")

    # -- the API --------------------------------------------------------------------------

    def client(self, role: str = "clerk") -> Any:
        return self.sut.client(role=role)

    def post_invoice(self, customer_id: str, lines: list[dict[str, Any]], **fields: Any) -> Any:
        body = {"customer_id": customer_id, "lines": lines, **fields}
        return self.client().post("/invoices", json=body)

    def invoice(
        self,
        customer_id: str,
        *lines: tuple[str, str],
        issue_date: dt.date = DAY,
        **fields: Any,
    ) -> dict[str, Any]:
        """A created invoice (issued unless draft=True); lines are (sku, quantity)."""
        answer = self.post_invoice(
            customer_id,
            [{"sku": sku, "quantity": qty} for sku, qty in (lines or [("WIDGET", "1")])],
            issue_date=issue_date.isoformat(),
            **fields,
        )
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()

    def get_invoice(self, invoice_id: str) -> dict[str, Any]:
        answer = self.client("viewer").get(f"/invoices/{invoice_id}")
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    def credit_note(self, customer_id: str, amount: str, **fields: Any) -> Any:
        body = {"customer_id": customer_id, "amount": amount, "date": DAY.isoformat(), **fields}
        return self.client().post("/credit-notes", json=body)

    def account(self, customer_id: str) -> dict[str, Any]:
        answer = self.client("viewer").get(f"/accounts/{customer_id}")
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    def transactions(self, customer_id: str, **query: str) -> Any:
        return self.client("viewer").get(
            f"/accounts/{customer_id}/transactions", query_string=query
        )

    # -- rows and published events --------------------------------------------------------

    def ledger(self, customer_id: str) -> list[Any]:
        """The customer's ledger rows, in the order they were written."""
        ledger = LedgerEntry.__table__
        with self.sut.db.engine.connect() as conn:
            return list(
                conn.execute(
                    select(ledger).where(ledger.c.customer_id == customer_id).order_by(ledger.c.id)
                )
            )

    def events(self, event_type: str | None = None, after: int = 0) -> list[dict[str, Any]]:
        """Envelopes in the outbox (optionally of one type), after outbox id ``after``."""
        found = []
        for row in self.sut.outbox():
            if row.id > after and (event_type is None or row.event_type == event_type):
                found.append(json.loads(row.payload))
        return found

    def mark(self) -> int:
        """The newest outbox id, to read only the events that follow."""
        rows = self.sut.outbox()
        return rows[-1].id if rows else 0


def standard_catalog(billing: Billing) -> None:
    """WIDGET 100.00 standard (24 %), BOOK 20.00 reduced (13 %), FLAT 100.00 zero-rated."""
    billing.item("WIDGET", "100.00")
    billing.item("BOOK", "20.00", tax_code="reduced")
    billing.item("FLAT", "100.00", tax_code="zero")
