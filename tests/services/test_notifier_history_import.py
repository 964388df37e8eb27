"""Entering history sends nothing (issue 17): an invoice, payment, credit note or refund
whose event says `notify: false` gets no email and no notification."""

from __future__ import annotations

import uuid

import pytest

from tests.services.notifier_support import Notifier


@pytest.fixture
def notifier(service_factory) -> Notifier:
    return Notifier(service_factory("notifier"))


def test_nothing_entered_as_history_is_notified(notifier):
    customer = notifier.customer(email="ap@acme.test")
    invoice = notifier.invoice(customer, "124.00", notify=False)
    applied = notifier.payment_applied(customer, [(invoice, "124.00")])
    notifier.feed(
        "billing.payment.applied",
        str(uuid.uuid4()),
        {**applied["data"], "payment_id": str(uuid.uuid4()), "notify": False},
        "billing",
    )
    note_id = str(uuid.uuid4())
    note = {
        "id": note_id,
        "number": "CN-2025-000001",
        "customer_id": customer["id"],
        "invoice_id": None,
        "amount": "5.00",
        "currency": "EUR",
        "date": "2025-03-05",
        "reason": None,
        "lines": [],
        "notify": False,
    }
    notifier.feed("billing.credit_note.issued", note_id, note, "billing")
    refund_id = str(uuid.uuid4())
    refund = {
        "id": refund_id,
        "customer_id": customer["id"],
        "amount": "5.00",
        "currency": "EUR",
        "method": "bank_transfer",
        "date": "2025-03-06",
        "notify": False,
    }
    notifier.feed("payments.refund.issued", refund_id, refund, "payments")

    kinds = [n["kind"] for n in notifier.notifications()]
    assert kinds == ["payment_receipt"]  # only the payment fed without notify: false
