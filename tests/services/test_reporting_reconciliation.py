"""Reporting agrees with billing: for any history of invoices (various issue dates), drafts,
payments (partial, over, split, to named invoices), credit notes, voids, reversals and
refunds, every event billing was fed and every event it wrote, delivered to reporting, give
per customer

    outstanding balance = billing's balance
    aging total - unapplied credit = billing's balance, the buckets adding up to the total
    aging total = billing's open total; unapplied credit and overdue = billing's

and on any past date the aging balance is billing's ledger up to that date. On SQLite for
speed; each example works on a customer of its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from shared.clock import today
from shared.messaging.consumer import Outcome
from tests.services.test_reporting_support import BUCKETS, Books, money, open_books

# Every business date lies well before today, so "today" is after everything (a void is
# dated the day it happens: today).
START = today() - dt.timedelta(days=150)
ZERO_ROW = {"balance": "0", "overdue": "0", "unapplied_credit": "0", "oldest_overdue_days": 0}

cents = st.integers(min_value=1, max_value=40_000)
index = st.integers(min_value=0, max_value=15)
day = st.integers(min_value=0, max_value=60)

operations = st.one_of(
    st.tuples(
        st.just("invoice"),
        st.sampled_from(["FLAT", "BOOK", "WIDGET"]),
        st.sampled_from(["1", "2", "0.5", "1.25", "3"]),
        day,
    ),
    st.tuples(st.just("draft"), st.sampled_from(["FLAT", "WIDGET"]), st.just("1"), day),
    st.tuples(st.just("issue"), index),
    st.tuples(st.just("pay"), cents, day),
    st.tuples(st.just("pay_to"), cents, index, day),
    st.tuples(st.just("pay_split"), cents, cents, index, cents, index, day),
    st.tuples(st.just("credit"), st.integers(min_value=1, max_value=15_000), index, day),
    st.tuples(st.just("credit_standalone"), cents, day),
    st.tuples(st.just("void"), index),
    st.tuples(st.just("reverse"), index, st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("refund"), st.integers(min_value=1, max_value=20_000), day),
)


def amount(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2))


def on(offset: int) -> dt.date:
    return START + dt.timedelta(days=offset)


class History:
    """One customer's history, run through billing and forwarded to reporting op by op."""

    def __init__(self, books: Books) -> None:
        self.books = books
        self.billing = books.billing
        self.id = books.customer(name=f"Customer {len(books.billing.fed)}")
        self.invoices: list[str] = []
        self.payments: list[str] = []
        self.reversed: set[str] = set()

    def pick(self, items: list[str], at: int) -> str | None:
        return items[at % len(items)] if items else None

    def run(self, op: tuple[Any, ...]) -> None:
        billing, kind = self.billing, op[0]
        if kind == "invoice":
            _, sku, quantity, offset = op
            created = billing.invoice(self.id, (sku, quantity), issue_date=on(offset))
            self.invoices.append(created["id"])
        elif kind == "draft":
            _, sku, quantity, offset = op
            created = billing.invoice(self.id, (sku, quantity), issue_date=on(offset), draft=True)
            self.invoices.append(created["id"])
        elif kind == "issue" and self.invoices:
            answer = billing.client().post(f"/invoices/{self.pick(self.invoices, op[1])}/issue")
            assert answer.status_code in (200, 409), answer.get_json()
        elif kind == "pay":
            self.payments.append(billing.pay(self.id, amount(op[1]), on=on(op[2])))
        elif kind == "pay_to" and self.invoices:
            _, total, at, offset = op
            target = self.pick(self.invoices, at)
            self.payments.append(
                billing.pay(self.id, amount(total), invoice_id=target, on=on(offset))
            )
        elif kind == "pay_split" and self.invoices:
            _, total, first, at_first, second, at_second, offset = op
            split = [
                (self.pick(self.invoices, at_first), amount(first)),
                (self.pick(self.invoices, at_second), amount(second)),
            ]
            self.payments.append(
                billing.pay(self.id, amount(total), allocations=split, on=on(offset))
            )
        elif kind == "credit" and self.invoices:
            _, cents_, at, offset = op
            answer = billing.credit_note(
                self.id,
                amount(cents_),
                invoice_id=self.pick(self.invoices, at),
                date=on(offset).isoformat(),
            )
            assert answer.status_code in (201, 409, 422), answer.get_json()
        elif kind == "credit_standalone":
            answer = billing.credit_note(
                self.id, amount(op[1]), tax_rate="24.00", date=on(op[2]).isoformat()
            )
            assert answer.status_code == 201, answer.get_json()
        elif kind == "void" and self.invoices:
            target = self.pick(self.invoices, op[1])
            answer = billing.client("admin").post(f"/invoices/{target}/void", json={})
            assert answer.status_code in (200, 409), answer.get_json()
        elif kind == "reverse" and self.payments:
            payment_id = self.payments[op[1] % len(self.payments)]
            if payment_id not in self.reversed:  # payments refuses a second reversal
                received = dt.date.fromisoformat(billing.payments[payment_id]["received_on"])
                reversed_on = received + dt.timedelta(days=op[2])
                assert billing.reverse(payment_id, self.id, on=reversed_on) is Outcome.APPLIED
                self.reversed.add(payment_id)
        elif kind == "refund":
            assert billing.refund(self.id, amount(op[1]), on=on(op[2])) is Outcome.APPLIED
        self.books.sync()

    # -- what each side says ------------------------------------------------------------

    def reported(self, name: str, as_of: dt.date) -> dict[str, Any]:
        row = self.books.reporting.row(name, self.id, as_of=as_of.isoformat())
        if row is None:  # a customer with nothing owed either way is left out
            return {**ZERO_ROW, **dict.fromkeys((*BUCKETS, "total"), "0")}
        return row

    def billing_balance_on(self, day_: dt.date) -> Decimal:
        """Billing's ledger up to ``day_``: the balance after its last transaction then."""
        answer = self.billing.transactions(self.id, to=day_.isoformat(), limit="500")
        assert answer.status_code == 200, answer.get_json()
        items = answer.get_json()["items"]
        return money(items[-1]["balance_after"]) if items else Decimal(0)

    def billing_oldest_overdue_days(self) -> int:
        listed = self.billing.client("viewer").get(
            "/invoices", query_string={"customer_id": self.id, "limit": 500}
        )
        assert listed.status_code == 200, listed.get_json()
        return max((i["days_overdue"] for i in listed.get_json()["items"]), default=0)


def assert_balances_agree(history: History, ops: list[tuple[Any, ...]]) -> None:
    account = history.billing.account(history.id)
    outstanding = history.reported("outstanding", today())
    aging = history.reported("aging", today())
    balance = money(account["balance"])
    context = (ops, account, outstanding, aging)

    assert money(outstanding["balance"]) == balance, context
    assert sum(money(aging[b]) for b in BUCKETS) == money(aging["total"]), context
    assert money(aging["total"]) - money(aging["unapplied_credit"]) == balance, context
    assert money(aging["balance"]) == balance, context
    for offset in (-1, 10, 25, 45, 80):
        past = on(offset)
        reported = money(history.reported("aging", past)["balance"])
        assert reported == history.billing_balance_on(past), (past, ops)


def assert_open_amounts_agree(history: History, ops: list[tuple[Any, ...]]) -> None:
    account = history.billing.account(history.id)
    outstanding = history.reported("outstanding", today())
    aging = history.reported("aging", today())
    context = (ops, account, outstanding, aging)

    assert money(aging["total"]) == money(account["open_total"]), context
    assert money(aging["unapplied_credit"]) == money(account["unapplied_credit"]), context
    assert money(outstanding["unapplied_credit"]) == money(account["unapplied_credit"]), context
    assert money(outstanding["overdue"]) == money(account["overdue_total"]), context
    assert outstanding["oldest_overdue_days"] == history.billing_oldest_overdue_days(), context


@pytest.fixture
def books(service_factory: Any) -> Iterator[Books]:
    with open_books(service_factory) as opened:
        yield opened


# No shrinking and no example database: a failing history is reported as generated (at most
# 12 operations, listed in the assertion), so a failing run is as quick as a passing one; the
# smallest history known to fail is an explicit example (it runs first, and alone if it fails).
RECONCILE = settings(
    max_examples=25,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@RECONCILE
@given(ops=st.lists(operations, min_size=1, max_size=12))
def test_after_any_history_reporting_balances_match_billing_today_and_on_past_dates(books, ops):
    history = History(books)
    for op in ops:
        history.run(op)
    assert_balances_agree(history, ops)


@RECONCILE
@given(ops=st.lists(operations, min_size=1, max_size=12))
# Credit from a credit note, used by the next invoice issued.
@example(ops=[("credit_standalone", 5_000, 0), ("invoice", "FLAT", "1", 5)])
def test_after_any_history_reporting_open_amounts_credit_and_overdue_match_billing(books, ops):
    history = History(books)
    for op in ops:
        history.run(op)
    assert_open_amounts_agree(history, ops)
