"""The central money flow in real mode: every service in its own processes on RabbitMQ and
PostgreSQL, all calls through the gateway with the bootstrap token. A payment recorded in
payments is applied by billing within seconds, and both sides show it.

One suite is started for the whole module (its own exchange and queue prefix); every test
works with its own customer.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3
from sqlalchemy import create_engine, pool, select, text
from sqlalchemy.engine import Engine

from services.payments.models import Refund, credit_replica, invoice_replica
from services.registry import SERVICES
from shared.messaging.topology import Topology
from tests.support.gateway import FLAT, SETTLE, Gateway, settled
from tests.support.harness import delete_topology, wait_until
from tests.support.realmode import RealSuite, start_real_suite
from tests.support.subscriber import PikaSubscriber, Received


@pytest.fixture(scope="module")
def suite(amqp_url: str, run_id: str) -> Iterator[RealSuite]:
    exchange, prefix = f"tameio.test.{run_id}.payflow", f"t{run_id}-payflow."
    real = start_real_suite(amqp_url, exchange, prefix, web_workers=1)
    yield real
    real.stop()
    delete_topology(amqp_url, Topology(exchange, [s.queue for s in SERVICES.values()], prefix))


@pytest.fixture(scope="module")
def api(suite: RealSuite) -> Gateway:
    gateway = Gateway(suite.base)
    item = {
        "sku": FLAT,
        "name": "Flat fee",
        "unit_price": "100.00",
        "currency": "EUR",
        "tax_code": "zero",
    }
    gateway.post("contracts/items", item)
    return gateway


@pytest.fixture(scope="module")
def payments_db(suite: RealSuite) -> Iterator[Engine]:
    engine = create_engine(suite.database_url("payments"), poolclass=pool.NullPool)
    yield engine
    engine.dispose()


def payments_knows(payments_db: Engine, *invoice_ids: str) -> None:
    """Wait until payments' replica holds the invoices (so a payment may point at them)."""

    def known() -> bool:
        with payments_db.connect() as conn:
            rows = conn.execute(
                select(invoice_replica.c.id).where(invoice_replica.c.id.in_(invoice_ids))
            )
            return len(list(rows)) == len(invoice_ids)

    wait_until(known, timeout=SETTLE, interval=0.2, what=f"payments to hear of {invoice_ids}")


def allocations(payment: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["invoice_id"], a["amount"]) for a in payment["allocations"]]


def test_customer_created_through_the_gateway_reaches_every_process_and_the_wire(
    suite: RealSuite, api: Gateway, amqp_url: str
) -> None:
    """`tameio up --broker --database-url`: a customer made through the gateway is published
    on the wire and replicated by billing's own worker process; a service port reached
    without the gateway's signature refuses. (First in the module: the first customer.)"""
    subscriber = PikaSubscriber(amqp_url, suite.exchange, "customers.customer.created")
    try:
        customer = api.post("customers/customers", {"name": "Real Mode SA", "currency": "EUR"})
        assert customer["number"] == "C-000001"
        (message,) = subscriber.collect(1, timeout=SETTLE)
    finally:
        subscriber.close()
    assert message.properties.message_id == message.body["id"]
    assert message.body["data"]["id"] == customer["id"]

    billing = create_engine(suite.database_url("billing"), poolclass=pool.NullPool)

    def replicated() -> bool:
        with billing.connect() as conn:
            query = text("SELECT count(*) FROM customer_replica WHERE id = :id")
            return conn.execute(query, {"id": customer["id"]}).scalar() == 1

    try:
        wait_until(replicated, timeout=SETTLE, what="billing's worker to replicate the customer")
    finally:
        billing.dispose()
    customers_port = f"http://127.0.0.1:{suite.ports['customers']}"
    direct = urllib3.request("GET", f"{customers_port}/customers")
    assert direct.status == 401, "a service port reached without the gateway's signature refuses"
    assert urllib3.request("GET", f"{customers_port}/healthz").status == 200


def test_99_99_of_100_leaves_the_invoice_partially_paid_with_a_cent_due_on_every_side(
    api, payments_db
):
    customer = api.customer()
    invoice = api.invoice(customer)
    assert (invoice["status"], invoice["total"], invoice["tax_total"]) == ("open", "100.00", "0.00")
    payments_knows(payments_db, invoice["id"])

    payment = api.pay(customer, "99.99", invoice_id=invoice["id"])
    assert (payment["status"], payment["allocations"]) == ("received", [])

    now = settled(lambda: api.invoice_now(invoice["id"]), status="partially_paid")
    assert (now["amount_paid"], now["amount_due"]) == ("99.99", "0.01")
    assert [(p["payment_id"], p["amount"]) for p in now["payments"]] == [(payment["id"], "99.99")]
    account = settled(lambda: api.account(customer), balance="0.01")
    assert (account["open_total"], account["unapplied_credit"]) == ("0.01", "0.00")
    applied = settled(lambda: api.payment(payment["id"]), status="applied")
    assert allocations(applied) == [(invoice["id"], "99.99")]
    assert applied["unapplied_amount"] == "0.00"

    # notifier's partial-payment notice (this customer has no email address, so its delivery
    # fails at once) and customers' communication history, which logs it.
    def notice() -> dict[str, Any] | None:
        found = api.get(f"notifier/notifications?customer_id={customer}&kind=partial_payment")[
            "items"
        ]
        return found[0] if found and found[0]["status"] == "failed" else None

    partial = wait_until(notice, timeout=SETTLE, interval=0.2, what="the partial-payment notice")
    assert "0.01 EUR still due" in partial["body"]
    assert partial["error"] == "the customer has no email address"

    def logged() -> list[dict[str, Any]]:
        history = api.get(f"customers/customers/{customer}/interactions")["items"]
        return [
            e for e in history if e["source"] == "notifier" and e["subject"] == partial["subject"]
        ]

    (entry,) = wait_until(logged, timeout=SETTLE, interval=0.2, what="the notice in the history")
    assert entry["body"].startswith("Delivery failed: the customer has no email address")


def test_an_overpayment_becomes_credit_that_the_next_invoice_uses(api):
    customer = api.customer()
    first = api.invoice(customer)

    payment = api.pay(customer, "130.00")

    account = settled(lambda: api.account(customer), unapplied_credit="30.00")
    assert account["balance"] == "-30.00"
    assert api.invoice_now(first["id"])["status"] == "paid"
    applied = settled(lambda: api.payment(payment["id"]), unapplied_amount="30.00")
    assert allocations(applied) == [(first["id"], "100.00")]

    second = api.invoice(customer)

    assert (second["status"], second["amount_paid"], second["amount_due"]) == (
        "partially_paid",
        "30.00",
        "70.00",
    )
    assert [p["payment_id"] for p in second["payments"]] == [payment["id"]]
    account = api.account(customer)
    assert (account["balance"], account["unapplied_credit"]) == ("70.00", "0.00")
    used = settled(lambda: api.payment(payment["id"]), unapplied_amount="0.00")
    assert allocations(used) == [(first["id"], "100.00"), (second["id"], "30.00")]


def test_split_allocations_pay_each_invoice_its_share(api, payments_db):
    customer = api.customer()
    first, second = api.invoice(customer), api.invoice(customer)
    payments_knows(payments_db, first["id"], second["id"])

    payment = api.pay(
        customer,
        "100.00",
        allocations=[
            {"invoice_id": second["id"], "amount": "40.00"},
            {"invoice_id": first["id"], "amount": "60.00"},
        ],
    )

    applied = settled(lambda: api.payment(payment["id"]), status="applied")
    assert allocations(applied) == [(second["id"], "40.00"), (first["id"], "60.00")]
    assert applied["unapplied_amount"] == "0.00"
    for invoice, paid, due in ((first, "60.00", "40.00"), (second, "40.00", "60.00")):
        now = api.invoice_now(invoice["id"])
        assert (now["status"], now["amount_paid"], now["amount_due"]) == (
            "partially_paid",
            paid,
            due,
        )
    assert api.account(customer)["balance"] == "100.00"


def test_a_reversal_reopens_the_invoice_and_the_balance_returns(api):
    customer = api.customer()
    invoice = api.invoice(customer)
    payment = api.pay(customer, "100.00")
    settled(lambda: api.invoice_now(invoice["id"]), status="paid")
    settled(lambda: api.account(customer), balance="0.00")

    reversed_ = api.post(
        f"payments/payments/{payment['id']}/reverse", {"reason": "bounced"}, expect=200
    )
    assert reversed_["status"] == "reversed"

    reopened = settled(lambda: api.invoice_now(invoice["id"]), status="open")
    assert (reopened["amount_paid"], reopened["amount_due"], reopened["payments"]) == (
        "0.00",
        "100.00",
        [],
    )
    account = settled(lambda: api.account(customer), balance="100.00")
    assert (account["open_total"], account["unapplied_credit"]) == ("100.00", "0.00")
    history = api.get(f"billing/accounts/{customer}/transactions")["items"]
    assert [(t["type"], t["balance_after"]) for t in history] == [
        ("invoice", "100.00"),
        ("payment", "0.00"),
        ("payment_reversal", "100.00"),
    ]
    cleared = settled(lambda: api.payment(payment["id"]), allocations=[])
    assert (cleared["status"], cleared["reason"]) == ("reversed", "bounced")


def test_a_refund_of_credit_is_posted_by_billing_and_reflected_back_in_payments(api, payments_db):
    customer = api.customer()
    api.invoice(customer)
    api.pay(customer, "130.00")
    settled(lambda: api.account(customer), unapplied_credit="30.00")

    def credit_known() -> bool:  # payments bounds refunds by its replica of billing's credit
        with payments_db.connect() as conn:
            known = conn.execute(
                select(credit_replica.c.unapplied_credit_minor).where(
                    credit_replica.c.id == customer
                )
            ).scalar()
            return known == 3000

    wait_until(credit_known, timeout=SETTLE, interval=0.2, what="payments to learn the credit")
    refund = api.post(
        "payments/refunds",
        {"customer_id": customer, "amount": "10.00", "currency": "EUR", "method": "card"},
    )

    account = settled(lambda: api.account(customer), unapplied_credit="20.00")
    assert account["balance"] == "-20.00"
    history = api.get(f"billing/accounts/{customer}/transactions")["items"]
    assert [(t["type"], t["amount"]) for t in history][-1] == ("refund", "10.00")

    def reflected() -> bool:
        with payments_db.connect() as conn:
            row = conn.execute(
                select(Refund.reflected).where(Refund.id == uuid.UUID(refund["id"]))
            ).first()
            return bool(row and row.reflected)

    wait_until(reflected, timeout=SETTLE, interval=0.2, what="billing's balance to reflect it")
    too_much = api.call(
        "POST",
        "payments/refunds",
        {"customer_id": customer, "amount": "20.01", "currency": "EUR", "method": "card"},
    )
    assert too_much.status == 409, too_much.data
    api.post(
        "payments/refunds",
        {"customer_id": customer, "amount": "20.00", "currency": "EUR", "method": "card"},
    )


def test_an_outside_subscriber_sees_partially_paid_and_balance_changed_on_the_wire(
    api, suite, amqp_url
):
    subscriber = PikaSubscriber(amqp_url, suite.exchange)
    try:
        customer = api.customer()
        invoice = api.invoice(customer)

        payment = api.pay(customer, "40.00")

        partially_paid = first_message(
            subscriber,
            lambda m: (
                m.routing_key == "billing.invoice.partially_paid"
                and m.body["subject"] == invoice["id"]
            ),
        )
        balance = first_message(
            subscriber,
            lambda m: (
                m.routing_key == "billing.account.balance_changed"
                and m.body["data"]["customer_id"] == customer
                and m.body["data"]["balance"] == "60.00"
            ),
        )
    finally:
        subscriber.close()

    assert partially_paid.body["type"] == "billing.invoice.partially_paid"
    assert partially_paid.properties.message_id == partially_paid.body["id"]
    data = partially_paid.body["data"]
    assert (data["invoice_id"], data["customer_id"], data["currency"]) == (
        invoice["id"],
        customer,
        "EUR",
    )
    assert (data["amount_paid"], data["amount_due"], data["payment_id"]) == (
        "40.00",
        "60.00",
        payment["id"],
    )
    assert balance.body["source"] == "billing"
    assert balance.body["subject"] == customer
    assert (balance.body["data"]["unapplied_credit"], balance.body["data"]["currency"]) == (
        "0.00",
        "EUR",
    )


def first_message(subscriber: PikaSubscriber, wanted: Callable[[Received], bool]) -> Received:
    """The first message the subscriber received (or receives within SETTLE s) that is wanted."""

    def found() -> Received | None:
        with contextlib.suppress(AssertionError):  # nothing new yet
            subscriber.collect(len(subscriber.received) + 1, timeout=0.5)
        return next((m for m in subscriber.received if wanted(m)), None)

    return wait_until(
        found,
        timeout=SETTLE,
        interval=0,
        what=lambda: f"a wanted message among {[m.routing_key for m in subscriber.received]}",
    )
