"""No false 422 from a replica that has not caught up (issue 16): a payment right after its
invoice, a contract right after its customer. The service asks the owner once; 422 only when
the owner says there is no such thing, 503 naming the owner when it is down."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select

from services.payments.models import invoice_replica
from shared.web.client import forget_local, register_local
from tests.services.test_payments_api import Payments, invoice_data
from tests.support.events import customer_data
from tests.support.realmode import free_port


class Owner:
    """An owning service that knows some records by path and answers 404 for the rest."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.asked: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        self.asked.append(path)
        if path not in self.records:
            start_response("404 NOT FOUND", [("Content-Type", "application/problem+json")])
            return [b'{"status": 404}']
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(self.records[path], default=str).encode()]


@pytest.fixture
def owner() -> Any:
    known = Owner()
    for service in ("billing", "customers"):
        register_local(service, known)
    yield known
    for service in ("billing", "customers"):
        forget_local(service)


def test_a_payment_right_after_its_invoice_is_recorded(service_factory, owner):
    payments = Payments(service_factory("payments", broker="memory://"))
    customer = payments.customer()
    invoice = invoice_data(customer, "INV-2026-000001", "100.00")
    owner.records[f"/invoices/{invoice['id']}"] = invoice

    first = payments.post_payment(customer, "40.00", invoice_id=invoice["id"])
    second = payments.post_payment(
        customer, "10.00", allocations=[{"invoice_id": invoice["id"], "amount": "10.00"}]
    )

    assert first.status_code == second.status_code == 201, (first.get_json(), second.get_json())
    assert owner.asked == [f"/invoices/{invoice['id']}"], "asked once, then kept"
    assert second.get_json()["requested_allocations"] == [
        {"invoice_id": invoice["id"], "amount": "10.00"}
    ]
    # billing's own event (sequence 1) still applies over the fetched copy (sequence 0)
    payments.feed(
        "billing.invoice.issued", invoice["id"], {**invoice, "amount_due": "99.00"}, "billing"
    )
    with payments.sut.db.engine.connect() as conn:
        kept = conn.execute(
            select(invoice_replica).where(invoice_replica.c.id == invoice["id"])
        ).one()
    assert (kept.sequence, kept.amount_due, kept.due_date) == (
        1,
        "99.00",
        dt.date.fromisoformat(invoice["due_date"]),
    )


def test_an_invoice_billing_does_not_know_is_422(service_factory, owner):
    payments = Payments(service_factory("payments", broker="memory://"))
    customer = payments.customer()
    stranger = invoice_data(payments.customer(), "INV-2026-000002")
    owner.records[f"/invoices/{stranger['id']}"] = stranger

    unknown = payments.post_payment(customer, "5.00", invoice_id=stranger["id"][:-4] + "0000")
    not_theirs = payments.post_payment(customer, "5.00", invoice_id=stranger["id"])

    for answer in (unknown, not_theirs):
        assert answer.status_code == 422
        assert "invoice_id" in answer.get_json()["errors"]


def test_billing_down_is_503_naming_billing(service_factory):
    sut = service_factory(
        "payments", broker="memory://", TAMEIO_BILLING_URL=f"http://127.0.0.1:{free_port()}"
    )
    payments = Payments(sut)
    customer = payments.customer()

    answer = payments.post_payment(customer, "5.00", invoice_id=invoice_data(customer, "X")["id"])

    assert answer.status_code == 503
    assert "billing" in answer.get_json()["detail"]


def contract_body(customer_id: str) -> dict[str, Any]:
    return {"customer_id": customer_id, "name": "Framework", "valid_from": "2026-01-01"}


def test_a_contract_right_after_its_customer_is_created(service_factory, owner):
    contracts = service_factory("contracts", broker="memory://")
    customer = json.loads(json.dumps(customer_data(currency="USD"), default=str))
    owner.records[f"/customers/{customer['id']}"] = customer
    admin = contracts.client("admin")

    made = admin.post("/contracts", json=contract_body(customer["id"]))
    unknown = admin.post("/contracts", json=contract_body(customer["id"][:-4] + "0000"))

    assert made.status_code == 201, made.get_json()
    assert made.get_json()["currency"] == "USD"
    assert unknown.status_code == 422
    assert "customer_id" in unknown.get_json()["errors"]


def test_customers_down_is_503_naming_customers(service_factory):
    contracts = service_factory(
        "contracts", broker="memory://", TAMEIO_CUSTOMERS_URL=f"http://127.0.0.1:{free_port()}"
    )

    answer = contracts.client("admin").post("/contracts", json=contract_body(customer_data()["id"]))

    assert answer.status_code == 503
    assert "customers" in answer.get_json()["detail"]
