"""Payment application (CONTRACT "Payment application"): requested allocations, then the
oldest due, the rest as credit used by the next invoice; statuses and the events they cause;
duplicates and payments that arrive before what they name."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.messaging.consumer import Outcome
from tests.services.test_billing_support import (
    DAY,
    Billing,
    new_id,
)
from tests.support.events import body_of, envelope


def hundreds(billing: Billing, customer: str, *issued_on: dt.date) -> list[dict[str, Any]]:
    """One invoice of 100.00 (no tax) per issue date; net_30 puts the due date 30 days on."""
    return [billing.invoice(customer, ("FLAT", "1"), issue_date=day) for day in issued_on]


def state(billing: Billing, invoice: dict[str, Any]) -> tuple[str, str, str]:
    now = billing.get_invoice(invoice["id"])
    return now["status"], now["amount_paid"], now["amount_due"]


def allocations(event: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["invoice_id"], a["amount"]) for a in event["data"]["allocations"]]


def test_a_payment_without_allocations_pays_the_oldest_due_first(billing):
    customer = billing.customer()
    newest, oldest, middle = hundreds(
        billing, customer, dt.date(2026, 3, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1)
    )
    mark = billing.mark()

    payment = billing.pay(customer, "250.00")
    assert state(billing, oldest) == ("paid", "100.00", "0.00")
    assert state(billing, middle) == ("paid", "100.00", "0.00")
    assert state(billing, newest) == ("partially_paid", "50.00", "50.00")

    (applied,) = billing.events("billing.payment.applied", after=mark)
    assert applied["subject"] == payment
    assert allocations(applied) == [
        (oldest["id"], "100.00"),
        (middle["id"], "100.00"),
        (newest["id"], "50.00"),
    ]
    assert (applied["data"]["unapplied_amount"], applied["data"]["from_credit"]) == ("0.00", False)
    paid = billing.events("billing.invoice.paid", after=mark)
    assert [e["data"]["invoice_id"] for e in paid] == [oldest["id"], middle["id"]]
    (partial,) = billing.events("billing.invoice.partially_paid", after=mark)
    assert (partial["data"]["amount_paid"], partial["data"]["amount_due"]) == ("50.00", "50.00")
    assert (partial["data"]["currency"], partial["data"]["date"]) == ("EUR", DAY.isoformat())
    (balance,) = billing.events("billing.account.balance_changed", after=mark)
    assert (balance["data"]["balance"], balance["data"]["unapplied_credit"]) == ("50.00", "0.00")


def test_requested_allocations_come_first_each_capped_at_what_is_due(billing):
    customer = billing.customer()
    oldest, middle, newest = hundreds(
        billing, customer, dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)
    )

    billing.pay(customer, "180.00", allocations=[(newest["id"], "500.00"), (middle["id"], "30.00")])

    assert state(billing, newest) == ("paid", "100.00", "0.00")
    assert state(billing, middle) == ("partially_paid", "30.00", "70.00")
    assert state(billing, oldest) == ("partially_paid", "50.00", "50.00")
    (applied,) = billing.events("billing.payment.applied")
    assert allocations(applied) == [
        (newest["id"], "100.00"),
        (middle["id"], "30.00"),
        (oldest["id"], "50.00"),
    ]


def test_a_payment_naming_one_invoice_pays_that_one_first(billing):
    customer = billing.customer()
    oldest, named = hundreds(billing, customer, dt.date(2026, 1, 1), dt.date(2026, 2, 1))

    billing.pay(customer, "120.00", invoice_id=named["id"])

    assert state(billing, named) == ("paid", "100.00", "0.00")
    assert state(billing, oldest) == ("partially_paid", "20.00", "80.00")


def test_split_allocations_pay_each_invoice_its_share(billing):
    customer = billing.customer()
    first, second = hundreds(billing, customer, DAY, DAY)

    payment = billing.pay(
        customer, "100.00", allocations=[(first["id"], "60.00"), (second["id"], "40.00")]
    )

    assert state(billing, first) == ("partially_paid", "60.00", "40.00")
    assert state(billing, second) == ("partially_paid", "40.00", "60.00")
    (applied_to_first,) = billing.get_invoice(first["id"])["payments"]
    assert (applied_to_first["payment_id"], applied_to_first["amount"]) == (payment, "60.00")
    (applied,) = billing.events("billing.payment.applied")
    assert allocations(applied) == [(first["id"], "60.00"), (second["id"], "40.00")]


def test_99_99_of_100_stays_partially_paid_and_the_last_cent_pays_it(billing):
    customer = billing.customer()
    (invoice,) = hundreds(billing, customer, DAY)

    billing.pay(customer, "99.99")
    assert state(billing, invoice) == ("partially_paid", "99.99", "0.01")
    (partial,) = billing.events("billing.invoice.partially_paid")
    assert partial["data"]["amount_due"] == "0.01"

    settled_on = DAY + dt.timedelta(days=3)
    billing.pay(customer, "0.01", on=settled_on)
    assert state(billing, invoice) == ("paid", "100.00", "0.00")
    assert billing.get_invoice(invoice["id"])["paid_on"] == settled_on.isoformat()
    (paid,) = billing.events("billing.invoice.paid")
    assert (paid["data"]["amount_paid"], paid["data"]["amount_due"]) == ("100.00", "0.00")
    assert paid["data"]["date"] == settled_on.isoformat()


def test_an_overpayment_is_credit_that_the_next_invoice_uses_by_itself(billing):
    customer = billing.customer()
    (first,) = hundreds(billing, customer, DAY)
    payment = billing.pay(customer, "130.00")
    (applied,) = billing.events("billing.payment.applied")
    assert applied["data"]["unapplied_amount"] == "30.00"
    account = billing.account(customer)
    assert (account["balance"], account["unapplied_credit"]) == ("-30.00", "30.00")
    mark = billing.mark()

    (second,) = hundreds(billing, customer, DAY + dt.timedelta(days=1))

    assert state(billing, second) == ("partially_paid", "30.00", "70.00")
    assert billing.get_invoice(second["id"])["payments"][0]["payment_id"] == payment
    (from_credit,) = billing.events("billing.payment.applied", after=mark)
    assert from_credit["subject"] == payment
    assert from_credit["data"]["from_credit"] is True
    assert allocations(from_credit) == [(second["id"], "30.00")]
    assert from_credit["data"]["unapplied_amount"] == "0.00"
    account = billing.account(customer)
    assert (account["balance"], account["unapplied_credit"], account["open_total"]) == (
        "70.00",
        "0.00",
        "70.00",
    )
    assert [e.type for e in billing.ledger(customer)] == ["invoice", "payment", "invoice"]
    assert state(billing, first) == ("paid", "100.00", "0.00")


def test_credit_larger_than_the_next_invoice_pays_it_and_the_rest_stays(billing):
    customer = billing.customer()
    billing.pay(customer, "250.00")  # nothing open: all credit

    (invoice,) = hundreds(billing, customer, DAY)

    assert state(billing, invoice) == ("paid", "100.00", "0.00")
    assert billing.account(customer)["unapplied_credit"] == "150.00"
    (issued,) = billing.events("billing.invoice.issued")
    assert issued["data"]["status"] == "open", "announced as issued, then paid by the credit"


def test_a_duplicated_payment_changes_nothing(billing):
    customer = billing.customer()
    (invoice,) = hundreds(billing, customer, DAY)
    payment_id, data = billing.payment_body(customer, "40.00")
    body = body_of(envelope("payments.payment.received", payment_id, 1, data, source="payments"))
    assert billing.deliver(body) is Outcome.APPLIED
    mark = billing.mark()

    redelivered = billing.deliver(body)
    republished = billing.deliver(
        body_of(envelope("payments.payment.received", payment_id, 1, data, source="payments"))
    )

    assert redelivered is Outcome.DUPLICATE
    assert republished is Outcome.APPLIED
    assert state(billing, invoice) == ("partially_paid", "40.00", "60.00")
    assert [e.type for e in billing.ledger(customer)] == ["invoice", "payment"]
    assert billing.events(after=mark) == []


def test_a_payment_for_a_customer_billing_has_not_seen_is_retried_not_parked(billing):
    early = new_id()
    payment_id, data = billing.payment_body(early, "10.00")

    outcome = billing.feed("payments.payment.received", payment_id, data, "payments")

    assert outcome is Outcome.RETRY
    assert billing.sut.rows(billing.sut.db.tables.dead_letters) == []
    (retry,) = billing.sut.rows(billing.sut.db.tables.retries)
    assert "not seen yet" in retry.last_error
    assert billing.ledger(early) == []

    billing.customer(early)  # the customer's event arrives after all
    assert billing.retry_now() == 1

    assert billing.sut.rows(billing.sut.db.tables.retries) == []
    assert billing.account(early)["unapplied_credit"] == "10.00"
    assert [e.type for e in billing.ledger(early)] == ["payment"]


def test_a_payment_for_an_invoice_billing_has_not_seen_is_retried_not_parked(billing):
    customer = billing.customer()
    unseen = new_id()
    for requested in ({"allocations": [(unseen, "10.00")]}, {"invoice_id": unseen}):
        payment_id, data = billing.payment_body(customer, "10.00", **requested)

        outcome = billing.feed("payments.payment.received", payment_id, data, "payments")

        assert outcome is Outcome.RETRY, requested
    assert billing.sut.rows(billing.sut.db.tables.dead_letters) == []
    assert len(billing.sut.rows(billing.sut.db.tables.retries)) == 2
    assert billing.ledger(customer) == []
    assert billing.account(customer)["unapplied_credit"] == "0.00"


def test_a_payment_in_another_currency_is_not_applied_as_the_accounts_currency(billing):
    customer = billing.customer(currency="EUR")
    (invoice,) = hundreds(billing, customer, DAY)
    payment_id, data = billing.payment_body(customer, "5000", currency="JPY")  # about 30 EUR

    outcome = billing.feed("payments.payment.received", payment_id, data, "payments")

    assert state(billing, invoice) == ("open", "0.00", "100.00"), "5000 JPY is not 50.00 EUR"
    assert [e.type for e in billing.ledger(customer)] == ["invoice"]
    assert outcome is Outcome.PARKED
