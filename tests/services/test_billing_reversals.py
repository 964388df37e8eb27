"""Reversals take back everything a payment paid, also through its leftover credit; refunds
draw on account credit, which may go negative."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from shared.messaging.consumer import Outcome
from tests.services.test_billing_support import (
    DAY,
    Billing,
    new_id,
)
from tests.support.events import body_of, envelope

LATER = DAY + dt.timedelta(days=10)


def hundred(billing: Billing, customer: str, issued_on: dt.date = DAY) -> dict[str, Any]:
    return billing.invoice(customer, ("FLAT", "1"), issue_date=issued_on)


def state(billing: Billing, invoice: dict[str, Any]) -> tuple[str, str, str]:
    now = billing.get_invoice(invoice["id"])
    return now["status"], now["amount_paid"], now["amount_due"]


def money_view(billing: Billing, customer: str) -> tuple[str, str, str]:
    account = billing.account(customer)
    return account["balance"], account["open_total"], account["unapplied_credit"]


def test_a_reversal_takes_back_every_application_also_through_leftover_credit(billing):
    customer = billing.customer()
    first = hundred(billing, customer)
    payment = billing.pay(customer, "150.00")
    second = hundred(billing, customer, DAY + dt.timedelta(days=1))  # takes the 50.00 credit
    other = billing.pay(customer, "20.00", invoice_id=second["id"])
    assert state(billing, second) == ("partially_paid", "70.00", "30.00")
    mark = billing.mark()

    assert billing.reverse(payment, customer, on=LATER) is Outcome.APPLIED

    assert state(billing, first) == ("open", "0.00", "100.00")
    assert state(billing, second) == ("partially_paid", "20.00", "80.00")
    assert [p["payment_id"] for p in billing.get_invoice(second["id"])["payments"]] == [other]
    assert billing.get_invoice(first["id"])["payments"] == []
    assert money_view(billing, customer) == ("180.00", "180.00", "0.00")
    assert [(e.type, e.amount_minor) for e in billing.ledger(customer)] == [
        ("invoice", 10000),
        ("payment", -15000),
        ("invoice", 10000),
        ("payment", -2000),
        ("payment_reversal", 15000),
    ]
    (unapplied,) = billing.events("billing.payment.unapplied", after=mark)
    assert unapplied["subject"] == payment
    assert sorted((a["invoice_id"], a["amount"]) for a in unapplied["data"]["allocations"]) == (
        sorted([(first["id"], "100.00"), (second["id"], "50.00")])
    )
    assert (unapplied["data"]["date"], unapplied["data"]["currency"]) == (LATER.isoformat(), "EUR")
    updated = {e["subject"] for e in billing.events("billing.invoice.updated", after=mark)}
    assert updated == {first["id"], second["id"]}
    (balance,) = billing.events("billing.account.balance_changed", after=mark)
    assert balance["data"]["balance"] == "180.00"


def test_a_reversal_takes_back_only_its_own_share_of_credit_an_invoice_used(billing):
    customer = billing.customer()
    older = billing.pay(customer, "30.00")  # nothing open: both are credit
    newer = billing.pay(customer, "50.00")
    mark = billing.mark()
    invoice = hundred(billing, customer)
    used = billing.events("billing.payment.applied", after=mark)
    assert [(e["subject"], e["data"]["from_credit"]) for e in used] == [
        (older, True),
        (newer, True),
    ], "the oldest credit is used first"
    assert state(billing, invoice) == ("partially_paid", "80.00", "20.00")

    billing.reverse(newer, customer)

    assert state(billing, invoice) == ("partially_paid", "30.00", "70.00")
    assert [p["payment_id"] for p in billing.get_invoice(invoice["id"])["payments"]] == [older]
    assert money_view(billing, customer) == ("70.00", "70.00", "0.00")


def test_a_reversal_removes_unused_leftover_credit(billing):
    customer = billing.customer()
    invoice = hundred(billing, customer)
    payment = billing.pay(customer, "130.00")
    assert money_view(billing, customer) == ("-30.00", "0.00", "30.00")

    billing.reverse(payment, customer)

    assert state(billing, invoice) == ("open", "0.00", "100.00")
    assert money_view(billing, customer) == ("100.00", "100.00", "0.00")
    later = hundred(billing, customer, LATER)
    assert state(billing, later) == ("open", "0.00", "100.00"), "no credit left to use"


def test_a_reversed_invoice_is_reopened_and_can_be_paid_again(billing):
    customer = billing.customer()
    invoice = hundred(billing, customer)
    bounced = billing.pay(customer, "100.00")
    billing.reverse(bounced, customer)

    billing.pay(customer, "100.00", on=LATER)

    assert state(billing, invoice) == ("paid", "100.00", "0.00")
    assert billing.get_invoice(invoice["id"])["paid_on"] == LATER.isoformat()
    assert money_view(billing, customer) == ("0.00", "0.00", "0.00")


def test_a_reversal_before_the_payment_was_seen_is_retried(billing):
    customer = billing.customer()
    invoice = hundred(billing, customer)
    payment_id, payment = billing.payment_body(customer, "100.00")

    outcome = billing.reverse(payment_id, customer)

    assert outcome is Outcome.RETRY
    assert billing.sut.rows(billing.sut.db.tables.dead_letters) == []
    assert len(billing.sut.rows(billing.sut.db.tables.retries)) == 1
    assert [e.type for e in billing.ledger(customer)] == ["invoice"]

    billing.feed("payments.payment.received", payment_id, payment, "payments")
    assert billing.retry_now() == 1

    assert state(billing, invoice) == ("open", "0.00", "100.00")
    assert [e.type for e in billing.ledger(customer)] == ["invoice", "payment", "payment_reversal"]
    assert billing.sut.rows(billing.sut.db.tables.retries) == []


def test_a_second_reversal_of_the_same_payment_changes_nothing(billing):
    customer = billing.customer()
    hundred(billing, customer)
    payment = billing.pay(customer, "100.00")
    billing.reverse(payment, customer)
    mark = billing.mark()

    again = billing.reverse(payment, customer)

    assert again is Outcome.APPLIED
    assert [e.type for e in billing.ledger(customer)] == ["invoice", "payment", "payment_reversal"]
    assert billing.events(after=mark) == []
    assert money_view(billing, customer) == ("100.00", "100.00", "0.00")


def test_a_refund_lowers_unapplied_credit_and_may_take_it_below_zero(billing):
    customer = billing.customer()
    billing.pay(customer, "50.00")
    mark = billing.mark()

    assert billing.refund(customer, "30.00") is Outcome.APPLIED
    assert money_view(billing, customer) == ("-20.00", "0.00", "20.00")
    (balance,) = billing.events("billing.account.balance_changed", after=mark)
    assert (balance["data"]["balance"], balance["data"]["unapplied_credit"]) == (
        "-20.00",
        "20.00",
    )

    assert billing.refund(customer, "50.00") is Outcome.APPLIED, "always posted"
    assert money_view(billing, customer) == ("30.00", "0.00", "-30.00")
    assert [(e.type, e.amount_minor) for e in billing.ledger(customer)] == [
        ("payment", -5000),
        ("refund", 3000),
        ("refund", 5000),
    ]


def test_reversing_a_payment_whose_credit_was_refunded_makes_the_credit_negative(billing):
    customer = billing.customer()
    payment = billing.pay(customer, "80.00")
    billing.refund(customer, "80.00")

    billing.reverse(payment, customer)

    assert money_view(billing, customer) == ("80.00", "0.00", "-80.00")
    invoice = hundred(billing, customer)
    assert state(billing, invoice) == ("open", "0.00", "100.00"), "negative credit pays nothing"
    assert billing.account(customer)["balance"] == "180.00"


def test_a_refund_for_a_customer_billing_has_not_seen_is_retried(billing):
    stranger = new_id()

    assert billing.refund(stranger, "10.00") is Outcome.RETRY
    assert billing.sut.rows(billing.sut.db.tables.dead_letters) == []
    assert billing.ledger(stranger) == []


def test_payments_reversals_and_a_refund_in_one_batch_end_where_one_by_one_would(billing):
    """A busy worker applies many messages in one transaction: the payments (Core
    statements) and the reversals and refunds (the ORM) must each see what the others
    wrote before them."""
    customer = billing.customer()
    first = hundred(billing, customer)
    second = hundred(billing, customer, DAY + dt.timedelta(days=1))
    small, small_data = billing.payment_body(customer, "30.00", invoice_id=first["id"])
    big, big_data = billing.payment_body(customer, "250.00")
    last, last_data = billing.payment_body(customer, "10.00", invoice_id=first["id"])
    refund_id = new_id()
    refund = {
        "id": refund_id,
        "number": "R-000001",
        "customer_id": customer,
        "amount": "20.00",
        "currency": "EUR",
        "method": "bank_transfer",
        "reference": None,
        "date": DAY.isoformat(),
        "status": "issued",
    }
    messages = [
        ("payments.payment.received", small, small_data),
        ("payments.payment.reversed", small, billing.reversal_body(small, customer)),
        ("payments.payment.received", big, big_data),  # pays both, 50.00 left as credit
        ("payments.refund.issued", refund_id, refund),  # credit 30.00
        ("payments.payment.reversed", big, billing.reversal_body(big, customer)),  # -20.00
        ("payments.payment.received", last, last_data),
    ]
    envelopes = [
        envelope(kind, subject, n + 1, data, source="payments")
        for n, (kind, subject, data) in enumerate(messages)
    ]
    bodies = [body_of(e) for e in envelopes]

    assert billing.processor.process_batch(bodies) == [Outcome.APPLIED] * len(bodies)

    inbox = billing.sut.db.tables.inbox
    with billing.sut.db.engine.connect() as conn:
        ids = [e["id"] for e in envelopes]
        received = set(
            conn.execute(select(inbox.c.received_at).where(inbox.c.event_id.in_(ids))).scalars()
        )
    assert len(received) == 1  # one transaction, not one by one after a failure
    assert state(billing, first) == ("partially_paid", "10.00", "90.00")
    assert state(billing, second) == ("open", "0.00", "100.00")
    assert money_view(billing, customer) == ("210.00", "190.00", "-20.00")
    balances = billing.events("billing.account.balance_changed")
    assert [b["data"]["balance"] for b in balances[-6:]] == [
        "170.00",
        "200.00",
        "-50.00",
        "-30.00",
        "220.00",
        "210.00",
    ]
