"""Payments on its own: recording money received (pointed at invoices or not), how billing's
application shows on it, reversals, and refunds bounded by the credit billing reported.

Payments learns customers, open invoices, applications and credit only from events; here
they are hand-built, as the customers and billing relays would publish them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from services.payments.models import Payment, Refund
from shared.clock import today
from shared.messaging.consumer import EventProcessor, Outcome
from shared.web.client import forget_local, register_local
from tests.services.test_billing_support import _answers_404
from tests.support.events import body_of, customer_data, envelope
from tests.support.events import invoice_data as shared_invoice_data
from tests.support.harness import ServiceUnderTest, wait_until
from tests.support.realmode import free_port

DAY = dt.date(2026, 3, 2)
RECEIVED = "payments.payment.received"
REVERSED = "payments.payment.reversed"
REFUNDED = "payments.refund.issued"


def new_id() -> str:
    return str(uuid.uuid4())


def invoice_data(
    customer_id: str, number: str, total: str = "100.00", currency: str = "EUR", **changes: Any
) -> dict[str, Any]:
    """The whole invoice as billing.invoice.issued / .updated carry it (one zero-rated line)."""
    return shared_invoice_data(
        customer_id,
        number,
        total,
        currency=currency,
        issue_date=DAY,
        due_date=DAY + dt.timedelta(days=30),
        **changes,
    )


class Payments:
    """The payments service under test, fed hand-built events and called as any role."""

    def __init__(self, sut: ServiceUnderTest) -> None:
        self.sut = sut
        self.processor = EventProcessor(sut.db, sut.definition.handlers)
        self.sequences: dict[tuple[str, str], int] = {}
        self.invoice_numbers = 0

    # -- feeding events -------------------------------------------------------------------

    def feed(
        self,
        event_type: str,
        subject: str,
        data: dict[str, Any],
        source: str,
        *,
        sequence: int | None = None,
        **envelope_fields: Any,
    ) -> dict[str, Any]:
        """Deliver one event as the source's relay would; it must apply. Returns the envelope."""
        key = (source, subject)
        if sequence is None:
            sequence = self.sequences.get(key, 0) + 1
        self.sequences[key] = max(sequence, self.sequences.get(key, 0))
        sent = envelope(event_type, subject, sequence, data, source=source, **envelope_fields)
        outcome = self.processor.process(body_of(sent))
        assert outcome is Outcome.APPLIED, (outcome, self.sut.rows(self.sut.db.tables.dead_letters))
        return sent

    def customer(self, currency: str = "EUR", **fields: Any) -> str:
        data = customer_data(currency=currency, **fields)
        self.feed("customers.customer.created", data["id"], data, "customers")
        return str(data["id"])

    def invoice(self, customer_id: str, total: str = "100.00", **changes: Any) -> dict[str, Any]:
        """billing.invoice.issued for a new open invoice of ``total``."""
        self.invoice_numbers += 1
        data = invoice_data(customer_id, f"INV-2026-{self.invoice_numbers:06d}", total, **changes)
        self.feed("billing.invoice.issued", data["id"], data, "billing")
        return data

    def invoice_updated(self, invoice: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """billing.invoice.updated version 2 (without the payments), the one payments reads."""
        data = {**invoice, **changes, "version": invoice["version"] + 1}
        data.pop("payments", None)
        self.feed("billing.invoice.updated", data["id"], data, "billing", version=2)
        return data

    def applied(
        self,
        payment: dict[str, Any],
        allocations: list[tuple[str, str]],
        unapplied: str,
        *,
        from_credit: bool = False,
        sequence: int | None = None,
    ) -> None:
        """billing.payment.applied for ``payment``, as billing announces its application."""
        data = {
            "payment_id": payment["id"],
            "customer_id": payment["customer_id"],
            "allocations": [{"invoice_id": i, "amount": a} for i, a in allocations],
            "unapplied_amount": unapplied,
            "currency": payment["currency"],
            "date": DAY.isoformat(),
            "from_credit": from_credit,
        }
        self.feed("billing.payment.applied", payment["id"], data, "billing", sequence=sequence)

    def unapplied(self, payment: dict[str, Any], allocations: list[tuple[str, str]]) -> None:
        data = {
            "payment_id": payment["id"],
            "customer_id": payment["customer_id"],
            "allocations": [{"invoice_id": i, "amount": a} for i, a in allocations],
            "currency": payment["currency"],
            "date": DAY.isoformat(),
            "unapplied_amount": "0.00",
            "reason": "bounced",
        }
        self.feed("billing.payment.unapplied", payment["id"], data, "billing")

    def balance(
        self, customer_id: str, unapplied_credit: str, causation_id: str | None = None
    ) -> None:
        """billing.account.balance_changed with the customer's unapplied credit."""
        data = {
            "customer_id": customer_id,
            "balance": f"-{unapplied_credit}",
            "unapplied_credit": unapplied_credit,
            "currency": "EUR",
            "date": DAY.isoformat(),
        }
        self.feed(
            "billing.account.balance_changed",
            customer_id,
            data,
            "billing",
            causation_id=causation_id,
        )

    # -- the API --------------------------------------------------------------------------

    def client(self, role: str = "clerk") -> Any:
        return self.sut.client(role=role)

    def post_payment(
        self,
        customer_id: str,
        amount: Any,
        *,
        role: str = "clerk",
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> Any:
        body = {
            "customer_id": customer_id,
            "amount": amount,
            "currency": "EUR",
            "method": "bank_transfer",
            "received_on": DAY.isoformat(),
            **fields,
        }
        return self.client(role).post("/payments", json=body, headers=headers)

    def pay(self, customer_id: str, amount: Any, **fields: Any) -> dict[str, Any]:
        answer = self.post_payment(customer_id, amount, **fields)
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()

    def get(self, payment_id: str) -> dict[str, Any]:
        answer = self.client("viewer").get(f"/payments/{payment_id}")
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    def reverse(self, payment_id: str, role: str = "admin", **body: Any) -> Any:
        return self.client(role).post(f"/payments/{payment_id}/reverse", json=body)

    def post_refund(
        self,
        customer_id: str,
        amount: str,
        *,
        role: str = "admin",
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> Any:
        body = {
            "customer_id": customer_id,
            "amount": amount,
            "currency": "EUR",
            "method": "bank_transfer",
            "date": DAY.isoformat(),
            **fields,
        }
        return self.client(role).post("/refunds", json=body, headers=headers)

    def refund(self, customer_id: str, amount: str, **fields: Any) -> dict[str, Any]:
        answer = self.post_refund(customer_id, amount, **fields)
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()

    # -- published events and rows --------------------------------------------------------

    def events(self, event_type: str) -> list[dict[str, Any]]:
        """Envelopes of ``event_type`` in the outbox, oldest first."""
        return [
            json.loads(row.payload) for row in self.sut.outbox() if row.event_type == event_type
        ]

    def payment_rows(self) -> list[Any]:
        return self.sut.rows(Payment.__table__)

    def refund_rows(self) -> list[Any]:
        return self.sut.rows(Refund.__table__)


def allocations_of(payment: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["invoice_id"], a["amount"]) for a in payment["allocations"]]


def assert_invalid(answer: Any, field: str) -> dict[str, Any]:
    """A 422 problem whose ``errors`` name ``field``."""
    assert answer.status_code == 422, (answer.status_code, answer.get_json())
    assert answer.content_type == "application/problem+json"
    problem = answer.get_json()
    assert field in problem["errors"], problem
    return problem


@pytest.fixture
def payments(service_factory) -> Payments:
    # Nothing listens at the customers and billing URLs: a replica miss finds them down.
    return Payments(
        service_factory(
            "payments",
            broker="memory://",
            TAMEIO_CUSTOMERS_URL=f"http://127.0.0.1:{free_port()}",
            TAMEIO_BILLING_URL=f"http://127.0.0.1:{free_port()}",
        )
    )


@pytest.fixture
def customers(service_factory) -> Iterator[ServiceUnderTest]:
    """The customers service, mounted in this process for payments to ask on a replica miss."""
    sut = service_factory("customers", broker="memory://")
    register_local("customers", sut.app.wsgi_app)
    yield sut
    forget_local("customers")


# -- recording a payment ------------------------------------------------------------------


def test_a_recorded_payment_is_numbered_and_received_with_nothing_applied_until_billing_says(
    payments,
):
    customer = payments.customer()

    answer = payments.post_payment(customer, "250.00", reference="SEPA 4711")

    assert answer.status_code == 201, answer.get_json()
    payment = answer.get_json()
    assert payment["number"] == "PAY-2026-000001"
    assert payment["status"] == "received"
    assert payment["allocations"] == []
    assert payment["unapplied_amount"] is None
    assert (payment["amount"], payment["currency"], payment["method"]) == (
        "250.00",
        "EUR",
        "bank_transfer",
    )
    assert (payment["customer_id"], payment["reference"]) == (customer, "SEPA 4711")
    assert payment["received_on"] == DAY.isoformat()
    assert answer.headers["Location"].endswith(f"payments/{payment['id']}")
    assert payments.get(payment["id"]) == payment


def test_payments_are_found_by_number_and_by_bank_reference_in_any_case(payments):
    customer = payments.customer()
    first = payments.pay(customer, "10.00", reference="SEPA 4711")
    second = payments.pay(customer, "20.00", reference="RF18 5390 0754")

    def found(**query: str) -> list[str]:
        answer = payments.client("viewer").get("/payments", query_string=query)
        assert answer.status_code == 200, answer.get_json()
        return [p["id"] for p in answer.get_json()["items"]]

    assert found(number=second["number"]) == [second["id"]]
    assert found(number=first["number"].lower()) == [first["id"]]
    assert found(reference=" sepa 4711 ") == [first["id"]]
    assert found(reference="rf18 5390 0754") == [second["id"]]
    assert found(reference="SEPA") == []


def test_payment_numbers_count_per_year_of_receipt_and_default_to_today(payments):
    customer = payments.customer()

    late_2025 = payments.pay(customer, "1.00", received_on="2025-12-31")
    first_2026 = payments.pay(customer, "1.00", received_on="2026-01-02")
    second_2026 = payments.pay(customer, "1.00", received_on="2026-06-30")
    undated = payments.pay(customer, "1.00", received_on=None)

    assert late_2025["number"] == "PAY-2025-000001"
    assert first_2026["number"] == "PAY-2026-000001"
    assert second_2026["number"] == "PAY-2026-000002"
    assert undated["received_on"] == today().isoformat()
    assert re.fullmatch(rf"PAY-{today().year}-\d{{6}}", undated["number"])


def test_recording_a_payment_emits_payment_received_with_the_requested_allocations(payments):
    customer = payments.customer()
    first, second = payments.invoice(customer), payments.invoice(customer)

    payment = payments.pay(
        customer,
        "100.00",
        allocations=[
            {"invoice_id": first["id"], "amount": "60.00"},
            {"invoice_id": second["id"], "amount": 40},
        ],
    )

    (received,) = payments.events(RECEIVED)
    assert received["subject"] == payment["id"]
    assert received["source"] == "payments"
    data = received["data"]
    assert (data["id"], data["number"], data["customer_id"]) == (
        payment["id"],
        payment["number"],
        customer,
    )
    assert (data["amount"], data["currency"], data["status"]) == ("100.00", "EUR", "received")
    assert data["allocations"] == [
        {"invoice_id": first["id"], "amount": "60.00"},
        {"invoice_id": second["id"], "amount": "40.00"},
    ]
    assert data["date"] == data["received_on"] == DAY.isoformat()
    assert payment["requested_allocations"] == data["allocations"]
    assert payment["allocations"] == [], "what billing applied is not known yet"


@pytest.mark.parametrize("pointed", ["allocations", "invoice_id", "nowhere"])
def test_the_answer_to_recording_a_payment_is_what_reading_it_answers(payments, pointed):
    customer = payments.customer()
    invoice = payments.invoice(customer)
    fields: dict[str, Any] = {
        "allocations": {"allocations": [{"invoice_id": invoice["id"], "amount": 12.5}]},
        "invoice_id": {"invoice_id": invoice["id"]},
        "nowhere": {"reference": "SEPA 4711", "notify": False},
    }[pointed]

    recorded = payments.post_payment(customer, "100", **fields)
    read = payments.client("viewer").get(f"/payments/{recorded.get_json()['id']}")

    assert recorded.status_code == 201, recorded.get_json()
    assert recorded.get_data(as_text=True) == read.get_data(as_text=True)
    assert recorded.headers["ETag"] == read.headers["ETag"]


def test_a_payment_pointed_at_one_invoice_carries_that_invoice_id_in_its_event(payments):
    customer = payments.customer()
    invoice = payments.invoice(customer)

    payment = payments.pay(customer, "100.00", invoice_id=invoice["id"])

    assert payment["invoice_id"] == invoice["id"]
    (received,) = payments.events(RECEIVED)
    assert (received["data"]["invoice_id"], received["data"]["allocations"]) == (invoice["id"], [])


def test_an_amount_given_as_a_json_number_is_answered_as_a_string_at_the_currency_exponent(
    payments,
):
    customer = payments.customer()
    yen_customer = payments.customer(currency="JPY")

    assert payments.pay(customer, 120.5)["amount"] == "120.50"
    assert payments.pay(yen_customer, 1200, currency="JPY")["amount"] == "1200"


@pytest.mark.parametrize(
    ("currency", "amount"),
    [
        ("EUR", "0"),
        ("EUR", "0.00"),
        ("EUR", "-5.00"),
        ("EUR", "10.001"),
        ("EUR", "10000000000000.00"),
        ("JPY", "1000.5"),
        ("JPY", "1000.0"),
        ("JPY", "-1000"),
    ],
)
def test_an_amount_not_above_zero_or_with_more_places_than_the_currency_has_is_422(
    payments, currency, amount
):
    customer = payments.customer(currency=currency)

    answer = payments.post_payment(customer, amount, currency=currency)

    assert_invalid(answer, "amount")
    assert payments.payment_rows() == []
    assert payments.events(RECEIVED) == []


def test_an_allocation_amount_not_above_zero_or_with_too_many_places_is_422(payments):
    customer = payments.customer()
    invoice = payments.invoice(customer)

    answer = payments.post_payment(
        customer, "50.00", allocations=[{"invoice_id": invoice["id"], "amount": "10.005"}]
    )

    assert_invalid(answer, "allocations.0.amount")
    zero = payments.post_payment(
        customer, "50.00", allocations=[{"invoice_id": invoice["id"], "amount": "0.00"}]
    )
    assert_invalid(zero, "allocations.0.amount")
    assert payments.payment_rows() == []


def test_a_currency_other_than_the_customers_is_422_on_currency(payments):
    customer = payments.customer(currency="EUR")

    answer = payments.post_payment(customer, "10.00", currency="USD")

    problem = assert_invalid(answer, "currency")
    assert "EUR" in problem["detail"]
    assert payments.payment_rows() == []


@pytest.mark.parametrize("method", ["paypal", "", "CASH"])
def test_a_method_that_is_not_one_of_the_five_is_422_on_method(payments, method):
    customer = payments.customer()

    assert_invalid(payments.post_payment(customer, "10.00", method=method), "method")


@pytest.mark.parametrize("method", ["bank_transfer", "card", "cash", "check", "other"])
def test_each_of_the_five_methods_is_accepted(payments, method):
    customer = payments.customer()

    assert payments.pay(customer, "10.00", method=method)["method"] == method


def test_an_unheard_of_customer_while_the_customers_service_is_down_is_a_503_naming_it(payments):
    answer = payments.post_payment(new_id(), "10.00")

    assert answer.status_code == 503
    assert answer.content_type == "application/problem+json"
    assert "customers service" in answer.get_json()["detail"]
    assert payments.payment_rows() == []


def test_a_customer_unknown_to_the_customers_service_is_422_on_customer_id(payments, customers):
    answer = payments.post_payment(new_id(), "10.00")

    assert_invalid(answer, "customer_id")
    assert payments.payment_rows() == []


def test_a_customer_not_replicated_yet_is_asked_of_the_customers_service_and_kept(
    payments, customers
):
    created = customers.client(role="clerk").post("/customers", json={"name": "Early Bird SA"})
    assert created.status_code == 201, created.get_json()
    customer = created.get_json()["id"]

    payment = payments.pay(customer, "10.00")
    forget_local("customers")  # the customer is now in the replica: no need to ask again

    assert payment["customer_id"] == customer
    assert payments.pay(customer, "5.00")["customer_id"] == customer


def test_an_allocation_to_another_customers_invoice_is_422_naming_its_index(payments):
    customer, other = payments.customer(), payments.customer()
    mine, theirs = payments.invoice(customer), payments.invoice(other)

    answer = payments.post_payment(
        customer,
        "20.00",
        allocations=[
            {"invoice_id": mine["id"], "amount": "10.00"},
            {"invoice_id": theirs["id"], "amount": "10.00"},
        ],
    )

    assert_invalid(answer, "allocations.1.invoice_id")
    assert_invalid(payments.post_payment(customer, "20.00", invoice_id=theirs["id"]), "invoice_id")
    assert payments.payment_rows() == []


def test_an_invoice_billing_never_announced_is_422(payments):
    customer = payments.customer()
    unknown = new_id()
    register_local("billing", _answers_404)  # asked on the replica miss, billing knows none
    try:
        assert_invalid(
            payments.post_payment(
                customer, "10.00", allocations=[{"invoice_id": unknown, "amount": "10.00"}]
            ),
            "allocations.0.invoice_id",
        )
        assert_invalid(payments.post_payment(customer, "10.00", invoice_id=unknown), "invoice_id")
    finally:
        forget_local("billing")


@pytest.mark.parametrize("status", ["paid", "void"])
def test_a_payment_pointed_at_a_paid_or_void_invoice_is_422(payments, status):
    customer = payments.customer()
    invoice = payments.invoice(customer)
    payments.invoice_updated(
        invoice,
        status=status,
        amount_paid="100.00" if status == "paid" else "0.00",
        amount_due="0.00",
    )

    by_allocation = payments.post_payment(
        customer, "10.00", allocations=[{"invoice_id": invoice["id"], "amount": "10.00"}]
    )
    by_invoice_id = payments.post_payment(customer, "10.00", invoice_id=invoice["id"])

    assert status in assert_invalid(by_allocation, "allocations.0.invoice_id")["detail"]
    assert status in assert_invalid(by_invoice_id, "invoice_id")["detail"]
    assert payments.payment_rows() == []


def test_version_1_of_an_invoice_update_is_acked_and_left_to_version_2(payments):
    """Billing publishes version 2 with every change (version 1 beside it only for outside
    subscribers), so the replica reads version 2 alone: reading both did each update twice."""
    customer = payments.customer()
    invoice = payments.invoice(customer)
    legacy = {**invoice, "status": "paid", "amount_paid": "100.00", "amount_due": "0.00"}
    legacy["version"] = invoice["version"] + 1
    sent = envelope("billing.invoice.updated", invoice["id"], 2, legacy, source="billing")

    assert payments.processor.process(body_of(sent)) is Outcome.IGNORED
    payment = payments.pay(customer, "10.00", invoice_id=invoice["id"])  # still open here
    assert payment["invoice_id"] == invoice["id"]


def test_a_partially_paid_invoice_still_takes_payments(payments):
    customer = payments.customer()
    invoice = payments.invoice(customer)
    payments.invoice_updated(
        invoice, status="partially_paid", amount_paid="40.00", amount_due="60.00"
    )

    payment = payments.pay(customer, "60.00", invoice_id=invoice["id"])

    assert payment["invoice_id"] == invoice["id"]


def test_allocations_adding_up_to_more_than_the_amount_are_422(payments):
    customer = payments.customer()
    first, second = payments.invoice(customer), payments.invoice(customer)

    too_much = payments.post_payment(
        customer,
        "100.00",
        allocations=[
            {"invoice_id": first["id"], "amount": "60.00"},
            {"invoice_id": second["id"], "amount": "40.01"},
        ],
    )
    exactly = payments.post_payment(
        customer,
        "100.00",
        allocations=[
            {"invoice_id": first["id"], "amount": "60.00"},
            {"invoice_id": second["id"], "amount": "40.00"},
        ],
    )

    assert_invalid(too_much, "allocations")
    assert exactly.status_code == 201, exactly.get_json()
    assert len(payments.payment_rows()) == 1


def test_an_invoice_named_twice_in_allocations_is_422(payments):
    customer = payments.customer()
    invoice = payments.invoice(customer)

    answer = payments.post_payment(
        customer,
        "20.00",
        allocations=[
            {"invoice_id": invoice["id"], "amount": "10.00"},
            {"invoice_id": invoice["id"], "amount": "10.00"},
        ],
    )

    assert_invalid(answer, "allocations")


def test_invoice_id_and_allocations_together_are_422(payments):
    customer = payments.customer()
    first, second = payments.invoice(customer), payments.invoice(customer)

    answer = payments.post_payment(
        customer,
        "20.00",
        invoice_id=first["id"],
        allocations=[{"invoice_id": second["id"], "amount": "10.00"}],
    )

    assert_invalid(answer, "invoice_id")
    assert payments.payment_rows() == []


def test_a_viewer_cannot_record_a_payment_but_can_read_them(payments):
    customer = payments.customer()
    payment = payments.pay(customer, "10.00")

    refused = payments.post_payment(customer, "10.00", role="viewer")

    assert refused.status_code == 403
    assert refused.content_type == "application/problem+json"
    assert len(payments.payment_rows()) == 1
    assert payments.get(payment["id"])["id"] == payment["id"]


# -- Idempotency-Key ----------------------------------------------------------------------


def test_the_same_idempotency_key_and_body_answers_the_first_payment_again_and_records_one(
    payments,
):
    customer = payments.customer()
    key = {"Idempotency-Key": "pay-7781"}

    first = payments.post_payment(customer, "75.00", headers=key)
    again = payments.post_payment(customer, "75.00", headers=key)

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert len(payments.payment_rows()) == 1
    assert len(payments.events(RECEIVED)) == 1


def test_the_same_idempotency_key_with_another_body_is_409_and_records_nothing_more(payments):
    customer = payments.customer()
    key = {"Idempotency-Key": "pay-7782"}
    payments.pay(customer, "75.00", headers=key)

    conflicting = payments.post_payment(customer, "76.00", headers=key)

    assert conflicting.status_code == 409
    assert conflicting.content_type == "application/problem+json"
    assert len(payments.payment_rows()) == 1
    assert len(payments.events(RECEIVED)) == 1


def test_two_requests_racing_with_one_idempotency_key_record_one_payment_and_answer_alike(
    payments,
):
    customer = payments.customer()
    key = {"Idempotency-Key": "pay-7783"}
    answers: list[Any] = []
    with payments.sut.db.engine.connect() as blocker:
        # Both requests find the key unused, then wait to write their payment.
        blocker.execute(text("LOCK TABLE payments IN EXCLUSIVE MODE"))
        racers = [
            threading.Thread(
                target=lambda: answers.append(payments.post_payment(customer, "75.00", headers=key))
            )
            for _ in range(2)
        ]
        for racer in racers:
            racer.start()
        wait_until(
            lambda: blocker.execute(text(WAITING_ON_PAYMENTS)).scalar() == 2,
            what="both requests waiting to write their payment",
        )
        blocker.rollback()
    for racer in racers:
        racer.join(10)

    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].get_json() == answers[1].get_json()
    assert sorted(answer.headers.get("Idempotent-Replayed", "") for answer in answers) == [
        "",
        "true",
    ]
    assert len(payments.payment_rows()) == 1
    assert len(payments.events(RECEIVED)) == 1


WAITING_ON_PAYMENTS = (
    "SELECT count(*) FROM pg_locks WHERE relation = 'payments'::regclass AND NOT granted"
)


def test_without_an_idempotency_key_the_same_body_records_two_payments(payments):
    customer = payments.customer()

    first, second = payments.pay(customer, "75.00"), payments.pay(customer, "75.00")

    assert first["id"] != second["id"]
    assert len(payments.events(RECEIVED)) == 2


# -- billing's application ----------------------------------------------------------------


def test_once_billing_applied_it_the_payment_shows_applied_its_allocations_and_leftover(
    payments,
):
    customer = payments.customer()
    first, second = payments.invoice(customer), payments.invoice(customer)
    payment = payments.pay(customer, "150.00")

    payments.applied(payment, [(first["id"], "100.00"), (second["id"], "40.00")], "10.00")

    now = payments.get(payment["id"])
    assert now["status"] == "applied"
    assert allocations_of(now) == [(first["id"], "100.00"), (second["id"], "40.00")]
    assert now["unapplied_amount"] == "10.00"
    assert now["requested_allocations"] == []


def test_leftover_credit_used_later_adds_its_allocations_to_the_payment(payments):
    customer = payments.customer()
    first = payments.invoice(customer)
    payment = payments.pay(customer, "130.00")
    payments.applied(payment, [(first["id"], "100.00")], "30.00")
    later = payments.invoice(customer)

    payments.applied(payment, [(later["id"], "30.00")], "0.00", from_credit=True)

    now = payments.get(payment["id"])
    assert now["status"] == "applied"
    assert allocations_of(now) == [(first["id"], "100.00"), (later["id"], "30.00")]
    assert now["unapplied_amount"] == "0.00"


def test_a_credit_use_delivered_before_the_first_application_still_ends_at_the_newest_leftover(
    payments,
):
    """Sequences rise per payment; the later event (the credit use) holds the leftover now."""
    customer = payments.customer()
    first, later = payments.invoice(customer), payments.invoice(customer)
    payment = payments.pay(customer, "130.00")

    payments.applied(payment, [(later["id"], "30.00")], "0.00", from_credit=True, sequence=2)
    payments.applied(payment, [(first["id"], "100.00")], "30.00", sequence=1)

    now = payments.get(payment["id"])
    assert allocations_of(now) == [(first["id"], "100.00"), (later["id"], "30.00")]
    assert now["unapplied_amount"] == "0.00", "sequence 2 is newer than sequence 1"


def test_an_application_of_a_payment_never_recorded_here_is_parked(payments):
    customer = payments.customer()
    stranger = {"id": new_id(), "customer_id": customer, "currency": "EUR"}
    data = {
        "payment_id": stranger["id"],
        "customer_id": customer,
        "allocations": [],
        "unapplied_amount": "10.00",
        "currency": "EUR",
        "date": DAY.isoformat(),
    }

    outcome = payments.processor.process(
        body_of(envelope("billing.payment.applied", stranger["id"], 1, data, source="billing"))
    )

    assert outcome is Outcome.PARKED
    (letter,) = payments.client("admin").get("/admin/dead-letters").get_json()["items"]
    assert "never recorded" in letter["error"]


# -- reversals ----------------------------------------------------------------------------


def test_an_admin_reverses_a_payment_and_payment_reversed_is_emitted(payments):
    customer = payments.customer()
    invoice = payments.invoice(customer)
    payment = payments.pay(customer, "100.00", invoice_id=invoice["id"])
    payments.applied(payment, [(invoice["id"], "100.00")], "0.00")

    answer = payments.reverse(payment["id"], reason="bounced", date="2026-03-09")

    assert answer.status_code == 200, answer.get_json()
    reversed_ = answer.get_json()
    assert reversed_["status"] == "reversed"
    assert reversed_["reason"] == "bounced"
    assert reversed_["reversed_at"] is not None
    assert payments.get(payment["id"])["status"] == "reversed"
    (event,) = payments.events(REVERSED)
    assert event["subject"] == payment["id"]
    assert (event["data"]["payment_id"], event["data"]["customer_id"]) == (payment["id"], customer)
    assert (event["data"]["reason"], event["data"]["date"]) == ("bounced", "2026-03-09")


def test_reversing_a_payment_twice_is_409_and_emits_one_reversal(payments):
    customer = payments.customer()
    payment = payments.pay(customer, "100.00")
    assert payments.reverse(payment["id"], reason="bounced").status_code == 200

    again = payments.reverse(payment["id"], reason="bounced again")

    assert again.status_code == 409
    assert again.content_type == "application/problem+json"
    assert payment["number"] in again.get_json()["detail"]
    assert len(payments.events(REVERSED)) == 1
    assert payments.get(payment["id"])["reason"] == "bounced"


def test_a_clerk_cannot_reverse_a_payment(payments):
    customer = payments.customer()
    payment = payments.pay(customer, "100.00")

    refused = payments.reverse(payment["id"], role="clerk", reason="bounced")

    assert refused.status_code == 403
    assert payments.get(payment["id"])["status"] == "received"
    assert payments.events(REVERSED) == []


def test_reversing_an_unknown_payment_is_404(payments):
    assert payments.reverse(new_id(), reason="bounced").status_code == 404


def test_an_application_arriving_after_the_reversal_does_not_undo_it(payments):
    customer = payments.customer()
    invoice = payments.invoice(customer)
    payment = payments.pay(customer, "100.00")
    payments.reverse(payment["id"], reason="bounced")

    payments.applied(payment, [(invoice["id"], "100.00")], "0.00")

    assert payments.get(payment["id"])["status"] == "reversed"


def test_billing_unapplying_a_reversed_payment_clears_its_allocations(payments):
    customer = payments.customer()
    invoice = payments.invoice(customer)
    payment = payments.pay(customer, "120.00")
    payments.applied(payment, [(invoice["id"], "100.00")], "20.00")
    payments.reverse(payment["id"], reason="bounced")

    payments.unapplied(payment, [(invoice["id"], "100.00")])

    now = payments.get(payment["id"])
    assert now["status"] == "reversed"
    assert now["allocations"] == []
    assert now["unapplied_amount"] == "0.00"


# -- refunds ------------------------------------------------------------------------------


def test_a_refund_with_no_credit_known_from_billing_is_409(payments):
    customer = payments.customer()

    answer = payments.post_refund(customer, "0.01")

    assert answer.status_code == 409
    assert answer.content_type == "application/problem+json"
    assert payments.refund_rows() == []


def test_a_refund_above_the_credit_billing_reported_is_409(payments):
    customer = payments.customer()
    payments.balance(customer, "50.00")

    answer = payments.post_refund(customer, "50.01")

    assert answer.status_code == 409
    assert "50.00" in answer.get_json()["detail"]
    assert payments.refund_rows() == []
    assert payments.events(REFUNDED) == []


def test_a_refund_within_the_credit_is_201_and_emits_refund_issued(payments):
    customer = payments.customer()
    payments.balance(customer, "50.00")

    answer = payments.post_refund(customer, "50.00", reference="IBAN DE02 1203")

    assert answer.status_code == 201, answer.get_json()
    refund = answer.get_json()
    assert refund["number"] == "REF-2026-000001"
    assert (refund["customer_id"], refund["amount"], refund["currency"]) == (
        customer,
        "50.00",
        "EUR",
    )
    assert (refund["method"], refund["date"]) == ("bank_transfer", DAY.isoformat())
    (event,) = payments.events(REFUNDED)
    assert event["subject"] == refund["id"]
    assert event["data"] == refund


def test_a_second_refund_that_with_the_unreflected_first_exceeds_the_credit_is_409(payments):
    customer = payments.customer()
    payments.balance(customer, "50.00")
    payments.refund(customer, "30.00")

    too_much = payments.post_refund(customer, "20.01")
    rest = payments.post_refund(customer, "20.00")

    assert too_much.status_code == 409
    assert "20.00" in too_much.get_json()["detail"]
    assert rest.status_code == 201, rest.get_json()
    assert len(payments.events(REFUNDED)) == 2


def test_a_refund_is_reflected_once_billing_reports_a_balance_caused_by_it(payments):
    customer = payments.customer()
    payments.balance(customer, "50.00")
    payments.refund(customer, "30.00")
    (issued,) = payments.events(REFUNDED)

    payments.balance(customer, "20.00", causation_id=issued["id"])

    (row,) = payments.refund_rows()
    assert row.reflected is True
    assert payments.post_refund(customer, "20.01").status_code == 409
    assert payments.post_refund(customer, "20.00").status_code == 201, "not counted twice"


def test_a_balance_change_caused_by_something_else_does_not_reflect_a_refund(payments):
    customer = payments.customer()
    payments.balance(customer, "50.00")
    payments.refund(customer, "30.00")

    payments.balance(customer, "80.00", causation_id=new_id())  # another overpayment

    (row,) = payments.refund_rows()
    assert row.reflected is False
    assert payments.post_refund(customer, "50.01").status_code == 409
    assert payments.post_refund(customer, "50.00").status_code == 201


def test_refunds_are_reflected_by_the_balance_changes_of_one_batch(payments):
    first, second = payments.customer(), payments.customer()
    payments.balance(first, "50.00")
    payments.balance(second, "50.00")
    payments.refund(first, "30.00")
    payments.refund(second, "10.00")
    issued = {event["data"]["customer_id"]: event["id"] for event in payments.events(REFUNDED)}

    def balance_changed(customer: str, credit: str, cause: str, sequence: int = 2) -> bytes:
        data = {
            "customer_id": customer,
            "balance": f"-{credit}",
            "unapplied_credit": credit,
            "currency": "EUR",
            "date": DAY.isoformat(),
        }
        kind = "billing.account.balance_changed"
        sent = envelope(kind, customer, sequence, data, source="billing", causation_id=cause)
        return body_of(sent)

    outcomes = payments.processor.process_batch(
        [
            balance_changed(first, "20.00", issued[first]),
            balance_changed(second, "40.00", issued[second]),
            balance_changed(second, "45.00", new_id(), sequence=1),  # older: ignored
        ]
    )

    assert outcomes == [Outcome.APPLIED] * 3
    assert [row.reflected for row in payments.refund_rows()] == [True, True]
    assert payments.post_refund(first, "20.01").status_code == 409
    assert payments.post_refund(second, "40.00").status_code == 201


def test_a_refund_replayed_with_its_idempotency_key_is_counted_once(payments):
    customer = payments.customer()
    payments.balance(customer, "50.00")
    key = {"Idempotency-Key": "refund-1"}

    first = payments.post_refund(customer, "30.00", headers=key)
    again = payments.post_refund(customer, "30.00", headers=key)

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert len(payments.refund_rows()) == 1
    assert payments.post_refund(customer, "20.00").status_code == 201


def test_a_refund_with_the_same_idempotency_key_and_another_body_is_409(payments):
    customer = payments.customer()
    payments.balance(customer, "50.00")
    key = {"Idempotency-Key": "refund-2"}
    payments.refund(customer, "30.00", headers=key)

    assert payments.post_refund(customer, "10.00", headers=key).status_code == 409
    assert len(payments.refund_rows()) == 1


def test_only_an_admin_issues_refunds(payments):
    customer = payments.customer()
    payments.balance(customer, "50.00")

    assert payments.post_refund(customer, "10.00", role="clerk").status_code == 403
    assert payments.refund_rows() == []


def test_a_refund_in_another_currency_than_the_customers_is_422(payments):
    customer = payments.customer()
    payments.balance(customer, "50.00")

    assert_invalid(payments.post_refund(customer, "10.00", currency="USD"), "currency")
    assert payments.refund_rows() == []


# -- reading ------------------------------------------------------------------------------


def test_a_customers_payments_are_listed_newest_first_in_pages(payments):
    customer, other = payments.customer(), payments.customer()
    made = [payments.pay(customer, f"{n}.00") for n in (10, 20, 30)]
    payments.pay(other, "99.00")
    viewer = payments.client("viewer")

    first_page = viewer.get("/payments", query_string={"customer_id": customer, "limit": 2})
    assert first_page.status_code == 200, first_page.get_json()
    page = first_page.get_json()
    second = viewer.get(
        "/payments",
        query_string={"customer_id": customer, "limit": 2, "cursor": page["next_cursor"]},
    ).get_json()

    assert [p["id"] for p in page["items"]] == [made[2]["id"], made[1]["id"]]
    assert page["next_cursor"] is not None
    assert [p["id"] for p in second["items"]] == [made[0]["id"]]
    assert second["next_cursor"] is None
    everyone = viewer.get("/payments").get_json()["items"]
    assert len(everyone) == 4


def test_the_payment_list_is_available_as_csv(payments):
    customer = payments.customer()
    made = [payments.pay(customer, amount) for amount in ("10.00", "20.50")]

    answer = payments.client("viewer").get(
        "/payments", query_string={"customer_id": customer, "format": "csv"}
    )

    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data().decode("utf-8-sig"))))
    assert [(r["number"], r["amount"], r["status"]) for r in rows] == [
        (made[1]["number"], "20.50", "received"),
        (made[0]["number"], "10.00", "received"),
    ]
    assert all(r["customer_id"] == customer for r in rows)


def test_an_unknown_payment_is_404(payments):
    answer = payments.client("viewer").get(f"/payments/{new_id()}")

    assert answer.status_code == 404
    assert answer.content_type == "application/problem+json"
