"""A replica miss: billing asks the owning service once and keeps the answer; a service that
is down is a clear 503, never a wrong 422."""

from __future__ import annotations

import uuid

import pytest

from shared.messaging.consumer import EventProcessor
from shared.web.client import forget_local, register_local
from tests.support.events import body_of, customer_data, envelope
from tests.support.realmode import free_port


@pytest.fixture
def suite(service_factory):
    customers = service_factory("customers")
    contracts = service_factory("contracts")
    billing = service_factory(
        "billing",
        TAMEIO_CUSTOMERS_URL=f"http://127.0.0.1:{free_port()}",
        TAMEIO_CONTRACTS_URL=f"http://127.0.0.1:{free_port()}",
    )
    register_local("customers", customers.app.wsgi_app)
    register_local("contracts", contracts.app.wsgi_app)
    yield customers, contracts, billing
    forget_local("customers")
    forget_local("contracts")


def test_a_customer_billing_has_not_heard_of_is_fetched_once_and_kept(suite):
    customers, contracts, billing = suite
    customer = (
        customers.client(role="clerk")
        .post(
            "/customers",
            json={
                "name": "Early Bird SA",
                "payment_terms": "net_14",
            },
        )
        .get_json()
    )
    contracts.client().post("/items", json={"sku": "TEA", "name": "Tea", "unit_price": "2.50"})

    answer = billing.client(role="clerk").post(
        "/invoices",
        json={
            "customer_id": customer["id"],
            "issue_date": "2026-05-04",
            "lines": [{"sku": "TEA", "quantity": 4}],
        },
    )

    assert answer.status_code == 201, answer.get_json()
    invoice = answer.get_json()
    assert invoice["bill_to"]["name"] == "Early Bird SA"
    assert invoice["due_date"] == "2026-05-18"
    assert invoice["total"] == "12.40"  # 10.00 + 24 % tax

    # The fetched copy has sequence 0, so the customer's own events still win.
    feed = EventProcessor(billing.db, billing.definition.handlers)
    renamed = customer_data(customer["id"], name="Early Bird Holdings SA", version=2)
    feed.process(body_of(envelope("customers.customer.updated", customer["id"], 2, renamed)))
    again = (
        billing.client(role="clerk")
        .post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "lines": [{"sku": "TEA", "quantity": 1}],
            },
        )
        .get_json()
    )
    assert again["bill_to"]["name"] == "Early Bird Holdings SA"
    assert invoice["bill_to"]["name"] == "Early Bird SA", "issued invoices keep their bill-to"


def test_a_customer_unknown_everywhere_is_a_422_naming_customer_id(suite):
    _, _, billing = suite
    answer = billing.client(role="clerk").post(
        "/invoices",
        json={
            "customer_id": str(uuid.uuid4()),
            "lines": [{"sku": "TEA", "quantity": 1}],
        },
    )
    assert answer.status_code == 422
    assert "customer_id" in answer.get_json()["errors"]


def test_when_the_owning_service_is_down_the_answer_is_a_503_saying_so(suite):
    _, _, billing = suite
    forget_local("customers")  # and nothing listens at TAMEIO_CUSTOMERS_URL
    answer = billing.client(role="clerk").post(
        "/invoices",
        json={
            "customer_id": str(uuid.uuid4()),
            "lines": [{"sku": "TEA", "quantity": 1}],
        },
    )
    assert answer.status_code == 503
    assert answer.content_type == "application/problem+json"
    assert "customers service" in answer.get_json()["detail"]
