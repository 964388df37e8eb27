"""The money invariant, for any sequence of invoices, payments (partial, over, split, to named
invoices), credit notes, drafts issued later, voids, reversals and refunds: for the customer

    balance = sum of ledger entries = open invoices' amount_due - unapplied_credit

and no invoice ever has amount_due below 0 or above its total. On SQLite for speed; each
example works on a customer of its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.messaging.consumer import Outcome
from tests.services.test_billing_support import (
    DAY,
    Billing,
    owners_know_nothing,
    standard_catalog,
)

OPEN = ("open", "partially_paid")
cents = st.integers(min_value=1, max_value=40_000)
index = st.integers(min_value=0, max_value=15)
day = st.integers(min_value=0, max_value=40)

operations = st.one_of(
    st.tuples(
        st.just("invoice"),
        st.sampled_from(["FLAT", "BOOK", "WIDGET"]),
        st.sampled_from(["1", "2", "0.5", "1.25", "3"]),
        day,
    ),
    st.tuples(st.just("draft"), st.sampled_from(["FLAT", "WIDGET"]), st.sampled_from(["1", "2"])),
    st.tuples(st.just("issue"), index),
    st.tuples(st.just("pay"), cents, day),
    st.tuples(st.just("pay_to"), cents, index),
    st.tuples(st.just("pay_split"), cents, cents, index, cents, index),
    st.tuples(st.just("credit"), st.integers(min_value=1, max_value=15_000), index),
    st.tuples(st.just("credit_standalone"), cents),
    st.tuples(st.just("void"), index),
    st.tuples(st.just("reverse"), index),
    st.tuples(st.just("refund"), st.integers(min_value=1, max_value=20_000)),
)


@pytest.fixture
def embedded_billing(service_factory) -> Iterator[Billing]:
    with owners_know_nothing():
        billing = Billing(service_factory("billing", embedded=True))
        standard_catalog(billing)
        yield billing


def amount(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2))


def minor(value: str) -> int:
    return int(Decimal(value).scaleb(2))


class Customer:
    """One customer's history, driven through billing's API and events."""

    def __init__(self, billing: Billing) -> None:
        self.billing = billing
        self.id = billing.customer()
        self.invoices: list[str] = []
        self.payments: list[str] = []

    def pick(self, items: list[str], at: int) -> str | None:
        return items[at % len(items)] if items else None

    def run(self, op: tuple[Any, ...]) -> None:
        billing, kind = self.billing, op[0]
        if kind == "invoice":
            _, sku, quantity, offset = op
            issued_on = DAY + dt.timedelta(days=offset)
            self.invoices.append(
                billing.invoice(self.id, (sku, quantity), issue_date=issued_on)["id"]
            )
        elif kind == "draft":
            self.invoices.append(billing.invoice(self.id, (op[1], op[2]), draft=True)["id"])
        elif kind == "issue" and self.invoices:
            target = self.pick(self.invoices, op[1])
            answer = billing.client().post(f"/invoices/{target}/issue")
            assert answer.status_code in (200, 409), answer.get_json()
        elif kind == "pay":
            self.payments.append(billing.pay(self.id, amount(op[1]), on=DAY + dt.timedelta(op[2])))
        elif kind == "pay_to" and self.invoices:
            target = self.pick(self.invoices, op[2])
            self.payments.append(billing.pay(self.id, amount(op[1]), invoice_id=target))
        elif kind == "pay_split" and self.invoices:
            _, total, first, at_first, second, at_second = op
            split = [
                (self.pick(self.invoices, at_first), amount(first)),
                (self.pick(self.invoices, at_second), amount(second)),
            ]
            self.payments.append(billing.pay(self.id, amount(total), allocations=split))
        elif kind == "credit" and self.invoices:
            target = self.pick(self.invoices, op[2])
            answer = billing.credit_note(self.id, amount(op[1]), invoice_id=target)
            assert answer.status_code in (201, 409, 422), answer.get_json()
        elif kind == "credit_standalone":
            answer = billing.credit_note(self.id, amount(op[1]), tax_rate="24.00")
            assert answer.status_code == 201, answer.get_json()
        elif kind == "void" and self.invoices:
            target = self.pick(self.invoices, op[1])
            answer = billing.client("admin").post(f"/invoices/{target}/void", json={})
            assert answer.status_code in (200, 409), answer.get_json()
        elif kind == "reverse" and self.payments:
            assert billing.reverse(self.pick(self.payments, op[1]), self.id) is Outcome.APPLIED
        elif kind == "refund":
            assert billing.refund(self.id, amount(op[1])) is Outcome.APPLIED

    def check_the_books(self, after: list[tuple[Any, ...]]) -> None:
        billing = self.billing
        listed = billing.client("viewer").get(
            "/invoices", query_string={"customer_id": self.id, "limit": 500}
        )
        invoices = listed.get_json()["items"]
        for invoice in invoices:
            due, total = minor(invoice["amount_due"]), minor(invoice["total"])
            assert 0 <= due <= total, (invoice["number"], invoice["amount_due"], after)
            if invoice["status"] != "void":
                paid, credited = minor(invoice["amount_paid"]), minor(invoice["amount_credited"])
                assert paid + credited + due == total, (invoice["number"], after)
                assert (invoice["status"] == "paid") == (due == 0), (invoice["number"], after)
        open_due = sum(minor(i["amount_due"]) for i in invoices if i["status"] in OPEN)
        ledger = sum(entry.amount_minor for entry in billing.ledger(self.id))
        account = billing.account(self.id)
        credit = minor(account["unapplied_credit"])
        assert minor(account["balance"]) == ledger, after
        assert ledger == open_due - credit, (ledger, open_due, credit, after)
        assert minor(account["open_total"]) == open_due, after
        drafts = {i["id"] for i in invoices if i["status"] == "draft"}
        assert not drafts & {e.invoice_id for e in billing.ledger(self.id)}, after


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=12))
def test_any_history_keeps_balance_ledger_and_open_invoices_in_step(embedded_billing, ops):
    customer = Customer(embedded_billing)
    done: list[tuple[Any, ...]] = []
    for op in ops:
        customer.run(op)
        done.append(op)
        customer.check_the_books(done)
