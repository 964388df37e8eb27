"""The reporting test kit: billing driven as in the billing kit, with every message fed to it
and every event it wrote to its outbox delivered to reporting, then the two compared.

Named test_reporting_*.py only so it lives beside the reporting tests; it holds no tests.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from services.registry import SERVICES
from services.reporting.models import Base as ReportingBase
from shared.clock import utcnow
from shared.messaging.consumer import EventProcessor, Outcome
from shared.messaging.topology import Topology
from tests.services.test_billing_support import (
    DAY,
    Billing,
    new_id,
    owners_know_nothing,
    standard_catalog,
)
from tests.support.harness import ServiceUnderTest, make_settings

BUCKETS = ("current", "d1_30", "d31_60", "d61_90", "d90_plus")


def money(value: Any) -> Decimal:
    return Decimal(str(value))


class FedBilling(Billing):
    """Billing that remembers every message body it was fed; its reversals and refunds carry
    what the payments service puts in them (number, amount, currency)."""

    def __init__(self, sut: ServiceUnderTest) -> None:
        super().__init__(sut)
        self.fed: list[str] = []
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds = 0

    def deliver(self, body: str) -> Outcome:
        self.fed.append(body)
        return super().deliver(body)

    def payment_body(
        self, customer_id: str, amount: str, **options: Any
    ) -> tuple[str, dict[str, Any]]:
        payment_id, data = super().payment_body(customer_id, amount, **options)
        self.payments[payment_id] = data
        return payment_id, data

    def reversal_body(self, payment_id: str, customer_id: str, on: dt.date = DAY) -> dict[str, Any]:
        payment = self.payments[payment_id]
        return {
            **super().reversal_body(payment_id, customer_id, on),
            "number": payment["number"],
            "amount": payment["amount"],
            "currency": payment["currency"],
            "received_on": payment["received_on"],
        }

    def refund(
        self, customer_id: str, amount: str, on: dt.date = DAY, currency: str = "EUR"
    ) -> Outcome:
        self.refunds += 1
        refund_id = new_id()
        data = {
            "id": refund_id,
            "number": f"REF-{on.year}-{self.refunds:06d}",
            "customer_id": customer_id,
            "amount": amount,
            "currency": currency,
            "method": "bank_transfer",
            "reference": None,
            "date": on.isoformat(),
            "status": "issued",
        }
        return self.feed("payments.refund.issued", refund_id, data, "payments")


class Reporting:
    """Reporting under test: fed message bodies as its consumer would get them, read over
    its API as a viewer (or any role)."""

    def __init__(self, sut: ServiceUnderTest) -> None:
        self.sut = sut
        self.processor = EventProcessor(sut.db, sut.definition.handlers)

    def deliver(self, body: str) -> Outcome:
        return self.processor.process(body)

    def retry_now(self) -> int:
        """Make every scheduled retry due and run it (an early event, once its cause is in)."""
        retries = self.sut.db.tables.retries
        with self.sut.db.engine.begin() as conn:
            conn.execute(retries.update().values(due_at=utcnow()))
        return self.processor.run_due_retries()

    def get(
        self,
        path: str,
        role: str = "viewer",
        headers: dict[str, str] | None = None,
        **query: Any,
    ) -> Any:
        return self.sut.client(role).get(path, query_string=query, headers=headers)

    def report(self, name: str, **query: Any) -> dict[str, Any]:
        answer = self.get(f"/reports/{name}", **query)
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    def row(self, name: str, customer_id: str, **query: Any) -> dict[str, Any] | None:
        """The customer's row of a report (None when the report leaves the customer out)."""
        rows = [r for r in self.report(name, **query)["items"] if r["customer_id"] == customer_id]
        assert len(rows) <= 1, rows
        return rows[0] if rows else None

    def rebuild(self, role: str = "admin") -> Any:
        return self.sut.client(role).post("/admin/rebuild")


class Books:
    """Billing and reporting side by side; ``sync`` forwards to reporting what billing was
    fed and what billing wrote to its outbox since the last sync, in that order."""

    def __init__(self, billing: FedBilling, reporting: Reporting) -> None:
        self.billing = billing
        self.reporting = reporting
        self.fed_upto = 0
        self.outbox_upto = 0
        self.forwarded: list[str] = []

    def pending(self) -> list[str]:
        bodies = self.billing.fed[self.fed_upto :]
        self.fed_upto = len(self.billing.fed)
        for row in self.billing.sut.outbox():
            if row.id > self.outbox_upto:
                bodies.append(row.payload)
                self.outbox_upto = row.id
        return bodies

    def sync(self) -> None:
        """Deliver what is pending; ``forwarded`` keeps what reporting applied (all but
        version 1 of ``billing.invoice.updated``, which it acks and ignores)."""
        for body in self.pending():
            outcome = self.reporting.deliver(body)
            sent = json.loads(body)
            if (sent["type"], sent["version"]) == ("billing.invoice.updated", 1):
                assert outcome is Outcome.IGNORED, outcome
                continue
            assert outcome is Outcome.APPLIED, (outcome, sent["type"])
            self.forwarded.append(body)

    def customer(self, name: str = "Acme Ltd", currency: str = "EUR", **fields: Any) -> str:
        return self.billing.customer(name=name, currency=currency, **fields)

    def invoice(
        self, customer_id: str, *lines: tuple[str, str], issue_date: dt.date = DAY, **fields: Any
    ) -> dict[str, Any]:
        return self.billing.invoice(customer_id, *lines, issue_date=issue_date, **fields)

    def priced_invoice(
        self, customer_id: str, unit_price: str, issue_date: dt.date = DAY, **fields: Any
    ) -> dict[str, Any]:
        """One zero-rated line at a manual price (any currency): total = ``unit_price``."""
        answer = self.billing.post_invoice(
            customer_id,
            [{"sku": "FLAT", "quantity": "1", "unit_price": unit_price}],
            issue_date=issue_date.isoformat(),
            **fields,
        )
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()

    def credit_note(self, customer_id: str, amount: str, on: dt.date, **fields: Any) -> Any:
        answer = self.billing.credit_note(customer_id, amount, date=on.isoformat(), **fields)
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()

    def void(self, invoice_id: str) -> dict[str, Any]:
        answer = self.billing.client("admin").post(
            f"/invoices/{invoice_id}/void", json={"reason": "issued by mistake"}
        )
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()


def report_snapshot(reporting: Reporting, dates: list[dt.date]) -> dict[str, Any]:
    """Every report reporting gives, as JSON: aging on each date, outstanding on the last,
    revenue per customer and per month over the whole span."""
    span = {"from": min(dates).isoformat(), "to": max(dates).isoformat()}
    return {
        **{f"aging {d}": reporting.report("aging", as_of=d.isoformat()) for d in dates},
        "outstanding": reporting.report("outstanding", as_of=max(dates).isoformat()),
        "revenue by customer": reporting.report("revenue", group_by="customer", **span),
        "revenue by month": reporting.report("revenue", group_by="month", **span),
    }


def kept_figures(reporting: Reporting) -> dict[str, list[Any]]:
    """Every read-model row (movements without their ids): what the consumer keeps event by
    event, in whatever order they came, must be what a rebuild computes from the log."""
    tables = ReportingBase.metadata.tables
    figures = {}
    with reporting.sut.db.engine.connect() as conn:
        for name in (
            "rp_customers",
            "rp_invoices",
            "rp_balances",
            "rp_day_balances",
            "rp_movements",
        ):
            columns = [
                c for c in tables[name].columns if not (name == "rp_movements" and c.name == "id")
            ]
            rows = [dict(row._mapping) for row in conn.execute(select(*columns))]
            figures[name] = sorted(rows, key=repr)
    return figures


@contextmanager
def fresh_reporting(beside: Reporting, label: str) -> Iterator[Reporting]:
    """Another reporting service, with an empty SQLite database of its own (next to the one
    of ``beside`` if that is SQLite, in a directory of its own otherwise) and the same
    exchange and queue names."""
    definition = SERVICES["reporting"]
    with tempfile.TemporaryDirectory(prefix="tameio-reporting-") as scratch:
        url = beside.sut.db.url
        directory = Path(url.removeprefix("sqlite:///")).parent
        if not url.startswith("sqlite:///"):
            directory = Path(scratch)
        exchange, prefix = beside.sut.settings.exchange, beside.sut.settings.queue_prefix
        url = f"sqlite:///{directory / f'reporting-{label}.db'}"
        settings = make_settings("reporting", url, "memory://", exchange, prefix)
        definition.migrate(settings)
        topology = Topology(exchange, [definition.queue], prefix)
        sut = ServiceUnderTest(definition, settings, definition.database(settings), topology)
        try:
            yield Reporting(sut)
        finally:
            sut.db.dispose()


@contextmanager
def open_books(service_factory: Any, reporting_on: str = "sqlite") -> Iterator[Books]:
    """Billing (with the standard catalog) on SQLite and reporting on ``reporting_on``
    (``sqlite`` or ``postgresql``, whose SQL differs in places), side by side."""
    with owners_know_nothing():
        billing = FedBilling(service_factory("billing", embedded=True))
        standard_catalog(billing)
        reporting = Reporting(service_factory("reporting", embedded=reporting_on == "sqlite"))
        yield Books(billing, reporting)
