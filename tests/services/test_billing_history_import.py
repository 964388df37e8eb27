"""History imports (issue 17): invoices, credit notes and payments entered with
`notify: false` say so in their events, so that notifier sends nothing for them."""

from __future__ import annotations

import datetime as dt

from tests.services.test_billing_support import DAY


def test_an_invoice_entered_as_history_says_so_in_its_events(billing):
    customer = billing.customer()
    mark = billing.mark()

    invoice = billing.invoice(
        customer, ("WIDGET", "1"), issue_date=dt.date(2025, 3, 2), notify=False
    )

    (issued,) = billing.events("billing.invoice.issued", after=mark)
    assert issued["data"]["notify"] is False
    assert invoice["notify"] is False
    assert billing.invoice(customer, ("WIDGET", "1"))["notify"] is True  # the default


def test_a_credit_note_entered_as_history_says_so(billing):
    customer = billing.customer()
    mark = billing.mark()

    answer = billing.credit_note(customer, "5.00", notify=False)

    assert answer.status_code == 201, answer.get_json()
    (issued,) = billing.events("billing.credit_note.issued", after=mark)
    assert issued["data"]["notify"] is False
    assert answer.get_json()["notify"] is False
    note_id = answer.get_json()["id"]
    kept = billing.client("viewer").get(f"/credit-notes/{note_id}").get_json()
    assert kept["notify"] is False  # read back from its row
    current = billing.credit_note(customer, "1.00").get_json()
    assert billing.client("viewer").get(f"/credit-notes/{current['id']}").get_json()["notify"]


def test_a_payment_entered_as_history_is_applied_without_notice(billing):
    customer = billing.customer()
    invoice = billing.invoice(customer, ("WIDGET", "1"), issue_date=DAY)
    payment_id, data = billing.payment_body(customer, "124.00", invoice_id=invoice["id"])
    mark = billing.mark()

    billing.feed("payments.payment.received", payment_id, {**data, "notify": False}, "payments")

    (applied,) = billing.events("billing.payment.applied", after=mark)
    assert applied["data"]["notify"] is False
    assert applied["data"]["allocations"] == [{"invoice_id": invoice["id"], "amount": "124.00"}]
