"""Two billing workers applying payments for the same customers at the same time, in batches
as busy workers take them: no invoice is paid twice over, nothing is lost, and every
account still adds up (balance = ledger = open dues - credit)."""

from __future__ import annotations

import threading
from decimal import Decimal

from shared.messaging.consumer import EventProcessor, Outcome
from tests.services.test_billing_support import (
    money,
)
from tests.support.events import body_of, envelope


def test_concurrent_workers_never_pay_an_invoice_twice_and_every_account_adds_up(billing):
    customers = [billing.customer() for _ in range(3)]
    invoices = {c: [billing.invoice(c, ("FLAT", "1")) for _ in range(2)] for c in customers}
    bodies = []
    for round_ in range(12):
        for customer in customers:
            target = invoices[customer][round_ % 2]["id"]
            payment_id, data = billing.payment_body(customer, "30.00", invoice_id=target)
            event = envelope("payments.payment.received", payment_id, 1, data, source="payments")
            bodies.append(body_of(event))
    # Interleaved halves: both workers hold payments of every customer, for both invoices.
    halves = [bodies[0::2], bodies[1::2]]
    outcomes: list[list[Outcome]] = [[], []]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        processor = EventProcessor(billing.sut.db, billing.sut.definition.handlers)
        try:
            mine = halves[index]
            for at in range(0, len(mine), 5):
                outcomes[index].extend(processor.process_batch(mine[at : at + 5]))
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert not errors
    # A lock conflict may send a payment to a retry; run those as the worker would.
    while billing.retry_now():
        pass
    assert sum(len(o) for o in outcomes) == len(bodies)
    assert len(billing.events("billing.payment.applied")) == len(bodies)

    for customer in customers:
        account = billing.account(customer)
        paid_in = Decimal("30.00") * 12
        # Two invoices of 100.00 each: 200.00 owed, 360.00 paid in, 160.00 left as credit.
        for invoice in invoices[customer]:
            now = billing.get_invoice(invoice["id"])
            assert (now["status"], now["amount_paid"], now["amount_due"]) == (
                "paid",
                "100.00",
                "0.00",
            )
        assert money(account["unapplied_credit"]) == paid_in - Decimal("200.00")
        ledger = sum(Decimal(row.amount_minor) for row in billing.ledger(customer)) / 100
        assert money(account["balance"]) == ledger == Decimal("200.00") - paid_in
        assert money(account["open_total"]) == Decimal("0.00")
