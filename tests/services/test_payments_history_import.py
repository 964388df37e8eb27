"""POST /payments and POST /refunds take `notify` (default true), keep it on the payment or
refund, answer it and carry it in their events (issue 17)."""

from __future__ import annotations

from tests.services.test_payments_api import payments  # noqa: F401  (the fixture)


def test_a_payment_entered_as_history_says_so_in_its_event(payments):  # noqa: F811
    customer = payments.customer()

    payments.pay(customer, "10.00", notify=False)
    payments.pay(customer, "20.00")

    notified = [e["data"]["notify"] for e in payments.events("payments.payment.received")]
    assert notified == [False, True]


def test_a_payment_keeps_and_answers_whether_it_was_history(payments):  # noqa: F811
    customer = payments.customer()

    history = payments.pay(customer, "10.00", notify=False)
    current = payments.pay(customer, "20.00")

    assert (history["notify"], current["notify"]) == (False, True)
    assert payments.get(history["id"])["notify"] is False  # read back from its row
    listed = payments.client("viewer").get("/payments", query_string={"customer_id": customer})
    assert [p["notify"] for p in listed.get_json()["items"]] == [True, False]


def test_a_refund_keeps_and_answers_whether_it_was_history(payments):  # noqa: F811
    customer = payments.customer()
    payments.balance(customer, "50.00")

    history = payments.refund(customer, "30.00", notify=False)
    current = payments.refund(customer, "5.00")

    assert (history["notify"], current["notify"]) == (False, True)
    rows = sorted(payments.refund_rows(), key=lambda row: row.number)
    assert [row.notify for row in rows] == [False, True]
    events = payments.events("payments.refund.issued")
    assert [e["data"]["notify"] for e in events] == [False, True]


def test_notify_must_be_a_boolean(payments):  # noqa: F811
    answer = payments.post_payment(payments.customer(), "10.00", notify="perhaps")

    assert answer.status_code == 422
    assert "notify" in answer.get_json()["errors"]
