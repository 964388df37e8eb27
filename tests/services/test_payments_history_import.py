"""POST /payments takes `notify` (default true) and carries it in its event (issue 17)."""

from __future__ import annotations

from tests.services.test_payments_api import payments  # noqa: F401  (the fixture)


def test_a_payment_entered_as_history_says_so_in_its_event(payments):  # noqa: F811
    customer = payments.customer()

    payments.pay(customer, "10.00", notify=False)
    payments.pay(customer, "20.00")

    notified = [e["data"]["notify"] for e in payments.events("payments.payment.received")]
    assert notified == [False, True]


def test_notify_must_be_a_boolean(payments):  # noqa: F811
    answer = payments.post_payment(payments.customer(), "10.00", notify="perhaps")

    assert answer.status_code == 422
    assert "notify" in answer.get_json()["errors"]
