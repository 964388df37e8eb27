"""No 500 from a race between a request and a consumer (issue 16): a transient database
conflict is retried inside the request, and only after a few tries answered 503."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from services.billing.models import item_replica
from shared.replicas import apply_snapshot
from shared.web.client import forget_local, register_local
from tests.services.test_billing_support import Billing, _answers_404


def item(sku: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": f"Item {sku}",
        "unit_price": "10.00",
        "currency": "EUR",
        "tax_code": "standard",
        "active": True,
    }


class Contracts:
    """A contracts service that knows every item and says when billing asks for ``signal_on``."""

    def __init__(self, signal_on: str) -> None:
        self.signal_on = signal_on
        self.asked = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        sku = environ["PATH_INFO"].rsplit("/", 1)[1]
        if sku == self.signal_on:
            self.asked.set()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(item(sku)).encode()]


@pytest.fixture
def contracts() -> Any:
    owner = Contracts(signal_on="B")
    register_local("contracts", owner)
    register_local("customers", _answers_404)
    yield owner
    forget_local("contracts")
    forget_local("customers")


def test_a_request_deadlocked_with_the_consumer_is_retried_not_500(service_factory, contracts):
    billing = Billing(service_factory("billing", broker="memory://"))
    customer = billing.customer()
    answers: list[Any] = []
    consumer = billing.sut.db.unit_of_work()
    # The consumer applies contracts.item.created for B, then for A, in one transaction; the
    # request fetched A (and keeps it in its replica) and now wants B: each waits for the other.
    apply_snapshot(consumer, item_replica, "B", 1, {"snapshot": item("B")})
    request = threading.Thread(
        target=lambda: answers.append(
            billing.post_invoice(
                customer, [{"sku": "A", "quantity": "1"}, {"sku": "B", "quantity": "2"}]
            )
        )
    )
    request.start()
    assert contracts.asked.wait(10), "billing never asked contracts for B"
    time.sleep(0.3)  # the request is now waiting on B, and will be the first to see the cycle
    apply_snapshot(consumer, item_replica, "A", 1, {"snapshot": item("A")})
    consumer.commit()
    consumer.__exit__(None, None, None)
    request.join(20)

    (answer,) = answers
    assert answer.status_code == 201, answer.get_json()
    assert [line["sku"] for line in answer.get_json()["lines"]] == ["A", "B"]
    assert answer.get_json()["subtotal"] == "30.00"


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_conflict_that_persists_is_503_with_retry_after(service_factory, monkeypatch):
    customers = service_factory("customers", broker="memory://")
    tries = []

    def always_deadlocked(*_: Any) -> str:
        tries.append(1)
        raise OperationalError("INSERT ...", {}, _Deadlock("deadlock detected"))

    monkeypatch.setattr("services.customers.commands.search_text", always_deadlocked)

    answer = customers.client("clerk").post("/customers", json={"name": "Acme"})

    assert answer.status_code == 503
    assert answer.mimetype == "application/problem+json"
    assert answer.headers["Retry-After"] == "1"
    assert len(tries) == 3
