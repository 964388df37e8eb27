"""Hardening a public API needs (issue 16): If-Match on every action with an ETag, CSV cells
that cannot run as formulas, bodies refused by size before anyone reads them, and security
headers on every answer."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from services.customers.models import Customer
from shared.web.lists import csv_cell
from tests.services.test_billing_support import Billing
from tests.services.test_payments_api import Payments
from tests.support.harness import ServiceUnderTest

MB = 1024 * 1024


@pytest.fixture
def customers(service_factory: Any) -> ServiceUnderTest:
    return service_factory("customers", broker="memory://")


# -- If-Match --------------------------------------------------------------------------------


def test_issue_and_void_honour_if_match(billing: Billing):
    customer = billing.customer()
    draft = billing.invoice(customer, draft=True)
    clerk, admin = billing.client(), billing.client("admin")
    stale = {"If-Match": f'"{draft["version"] + 5}"'}

    assert clerk.post(f"/invoices/{draft['id']}/issue", headers=stale).status_code == 409
    assert billing.get_invoice(draft["id"])["status"] == "draft"
    issued = clerk.post(
        f"/invoices/{draft['id']}/issue", headers={"If-Match": f'"{draft["version"]}"'}
    )
    assert issued.status_code == 200, issued.get_json()

    assert admin.post(f"/invoices/{draft['id']}/void", json={}, headers=stale).status_code == 409
    assert billing.get_invoice(draft["id"])["status"] == "open"
    current = {"If-Match": issued.headers["ETag"]}
    assert admin.post(f"/invoices/{draft['id']}/void", json={}, headers=current).status_code == 200


def test_reverse_honours_if_match(service_factory):
    payments = Payments(service_factory("payments", broker="memory://"))
    payment = payments.pay(payments.customer(), "10.00")
    admin = payments.client("admin")

    stale = admin.post(f"/payments/{payment['id']}/reverse", json={}, headers={"If-Match": '"999"'})

    assert stale.status_code == 409
    assert payments.get(payment["id"])["status"] != "reversed"
    fresh = admin.post(
        f"/payments/{payment['id']}/reverse",
        json={},
        headers={"If-Match": f'"{payment["version"]}"'},
    )
    assert fresh.status_code == 200, fresh.get_json()


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_text_that_would_run_as_a_formula_is_escaped_and_numbers_stay(customers):
    clerk = customers.client("clerk")
    names = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "Plain"]
    for name in names:
        body = {"name": name, "credit_limit": "-0" if name == "Plain" else "12.50"}
        assert clerk.post("/customers", json=body).status_code == 201

    exported = clerk.get("/customers?format=csv").get_data(as_text=True)

    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [row["name"] for row in rows] == [
        '\'=HYPERLINK("http://x")',
        "'+1+1",
        "'-2+3",
        "'@SUM(A1)",
        "Plain",
    ]
    assert {row["credit_limit"] for row in rows} == {"12.50", "0.00"}
    assert [csv_cell(text) for text in ("\tx", "\rx", "-12.50", "-", 7)] == [
        "'\tx",
        "'\rx",
        "-12.50",
        "'-",
        7,
    ]


def test_a_negative_amount_in_a_csv_stays_a_number(billing: Billing):
    customer = billing.customer()
    billing.invoice(customer)
    billing.pay(customer, "24.00")

    exported = billing.transactions(customer, format="csv").get_data(as_text=True)

    amounts = [row["amount"] for row in csv.DictReader(io.StringIO(exported))]
    assert amounts == ["124.00", "-24.00"]


# -- body size and headers ---------------------------------------------------------------------


def test_a_body_over_one_megabyte_is_413_before_authentication(customers):
    client = customers.app.test_client()  # no identity at all

    answer = client.post("/customers", data=b"x" * (MB + 1), content_type="application/json")

    assert answer.status_code == 413
    assert answer.mimetype == "application/problem+json"
    assert customers.rows(Customer.__table__) == []


def chunked_post(app: Any, path: str, chunks: list[bytes], **headers: str) -> tuple[int, bytes]:
    """POST a body of unknown length (Transfer-Encoding: chunked), as a server hands it on."""
    environ = EnvironBuilder(
        path=path, method="POST", headers={"Content-Type": "application/json", **headers}
    ).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input"] = io.BufferedReader(_Chunks(iter(chunks)))
    environ["wsgi.input_terminated"] = True
    body, status, _ = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), b"".join(body)


def test_a_chunked_body_is_cut_at_one_megabyte(customers):
    chunks = [b'{"name": "' + b"x" * (MB // 2), b"x" * (MB // 2 + 10), b'"}']
    signed = customers.client("clerk")._headers(None)

    status, body = chunked_post(customers.app, "/customers", chunks, **signed)

    assert status == 413, body[:300]
    assert customers.rows(Customer.__table__) == []
    status, body = chunked_post(customers.app, "/customers", [b'{"name": ', b'"Acme"}'], **signed)
    assert status == 201, body


class _Chunks(io.RawIOBase):
    def __init__(self, chunks: Any) -> None:
        self.chunks, self.pending = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.pending:
            self.pending = next(self.chunks, b"")
        size = min(len(buffer), len(self.pending))
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        return size


SECURITY = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}


def test_every_answer_carries_the_security_headers(customers):
    clerk = customers.client("clerk")
    for answer in (
        clerk.get("/customers"),
        clerk.get("/customers/not-an-id"),
        customers.app.test_client().get("/healthz"),
        customers.app.test_client().post("/customers", data=b"x" * (MB + 1)),
    ):
        for name, value in SECURITY.items():
            assert answer.headers.get(name) == value, (answer.status_code, name)
        assert answer.headers.get("Referrer-Policy")
        assert "Strict-Transport-Security" not in answer.headers


def test_hsts_is_sent_when_the_public_url_is_https(service_factory):
    customers = service_factory(
        "customers", broker="memory://", TAMEIO_PUBLIC_URL="https://ar.example.com"
    )

    answer = customers.app.test_client().get("/healthz")

    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
    assert customers.app.config["SESSION_COOKIE_SECURE"] is True
