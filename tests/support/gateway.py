"""The suite's public API as a client calls it: through the gateway with the bootstrap token."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import urllib3

from tests.support.harness import wait_until
from tests.support.realmode import TOKEN

SETTLE = 20.0  # seconds for anything that crosses the broker
FLAT = "FLAT-100"  # 100.00 EUR, zero-rated: an invoice of one is 100.00 in total


class Gateway:
    """The suite's public API, called as the bootstrap admin."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = urllib3.PoolManager(retries=False, timeout=15.0, maxsize=8)

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> urllib3.BaseHTTPResponse:
        return self.http.request(
            method,
            f"{self.base}/api/{path}",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}", **(headers or {})},
        )

    def post(self, path: str, body: Any, expect: int = 201) -> dict[str, Any]:
        answer = self.call("POST", path, body)
        assert answer.status == expect, (path, answer.status, answer.data)
        return dict(answer.json())

    def get(self, path: str) -> dict[str, Any]:
        answer = self.call("GET", path)
        assert answer.status == 200, (path, answer.status, answer.data)
        return dict(answer.json())

    # -- the business, as a clerk would do it --------------------------------------------

    def customer(self) -> str:
        name = f"Payer {uuid.uuid4().hex[:6]} SA"
        return str(self.post("customers/customers", {"name": name, "currency": "EUR"})["id"])

    def invoice(self, customer_id: str) -> dict[str, Any]:
        return self.post(
            "billing/invoices",
            {"customer_id": customer_id, "lines": [{"sku": FLAT, "quantity": 1}]},
        )

    def pay(self, customer_id: str, amount: str, **fields: Any) -> dict[str, Any]:
        body = {
            "customer_id": customer_id,
            "amount": amount,
            "currency": "EUR",
            "method": "bank_transfer",
            **fields,
        }
        return self.post("payments/payments", body)

    def invoice_now(self, invoice_id: str) -> dict[str, Any]:
        return self.get(f"billing/invoices/{invoice_id}")

    def account(self, customer_id: str) -> dict[str, Any]:
        return self.get(f"billing/accounts/{customer_id}")

    def payment(self, payment_id: str) -> dict[str, Any]:
        return self.get(f"payments/payments/{payment_id}")


def settled(read: Callable[[], dict[str, Any]], **expected: Any) -> dict[str, Any]:
    """``read()`` once it shows every ``expected`` field (within SETTLE seconds)."""
    last: dict[str, Any] = {}

    def matches() -> dict[str, Any] | None:
        nonlocal last
        last = read()
        return last if all(last.get(k) == v for k, v in expected.items()) else None

    return wait_until(matches, timeout=SETTLE, interval=0.2, what=lambda: f"{expected} in {last}")
