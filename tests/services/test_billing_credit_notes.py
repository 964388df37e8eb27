"""Credit notes: against an invoice (split over its tax rates pro rata, never below 0 due,
the excess as account credit) or standalone (all account credit)."""

from __future__ import annotations

from typing import Any

from tests.services.test_billing_support import (
    DAY,
    new_id,
)


def created(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_a_credit_note_is_split_over_the_invoices_tax_rates_pro_rata(billing):
    customer = billing.customer()
    # 24 %: 100.00 + 24.00 and 50.00 + 12.00; 13 %: 100.00 + 13.00. Gross 299.00.
    invoice = billing.invoice(customer, ("WIDGET", "1"), ("BOOK", "5"), ("WIDGET", "0.5"))
    assert invoice["total"] == "299.00"
    mark = billing.mark()

    note = created(billing.credit_note(customer, "100.00", invoice_id=invoice["id"]))

    # 13 %: 100.00 x 113/299 = 37.79 (half-up); 24 %: the remainder 62.21.
    # Net of gross: 37.79 / 1.13 = 33.44 (tax 4.35); 62.21 / 1.24 = 50.17 (tax 12.04).
    assert note["lines"] == [
        {"tax_rate": "13.00", "net_amount": "33.44", "tax_amount": "4.35"},
        {"tax_rate": "24.00", "net_amount": "50.17", "tax_amount": "12.04"},
    ]
    assert (note["amount"], note["applied_amount"], note["unapplied_amount"]) == (
        "100.00",
        "100.00",
        "0.00",
    )
    assert note["number"] == "CN-2026-000001"
    assert note["invoice_id"] == invoice["id"]
    now = billing.get_invoice(invoice["id"])
    assert (now["status"], now["amount_credited"], now["amount_due"]) == (
        "partially_paid",
        "100.00",
        "199.00",
    )
    (issued,) = billing.events("billing.credit_note.issued", after=mark)
    assert issued["data"]["lines"] == note["lines"]
    (partial,) = billing.events("billing.invoice.partially_paid", after=mark)
    assert partial["data"]["credit_note_id"] == note["id"]
    assert partial["data"]["amount_due"] == "199.00"
    credit_entry = billing.ledger(customer)[-1]
    assert (credit_entry.type, credit_entry.amount_minor) == ("credit_note", -10000)
    assert billing.account(customer)["balance"] == "199.00"


def test_the_split_puts_the_rounding_remainder_on_the_last_rate(billing):
    customer = billing.customer()
    invoice = billing.invoice(customer, ("WIDGET", "1"), ("BOOK", "5"))  # 124.00 + 113.00

    note = created(billing.credit_note(customer, "0.03", invoice_id=invoice["id"]))

    # 13 %: 0.03 x 113/237 = 0.0143 -> 0.01; 24 %: the remaining 0.02.
    assert [
        (line["tax_rate"], line["net_amount"], line["tax_amount"]) for line in note["lines"]
    ] == [
        ("13.00", "0.01", "0.00"),
        ("24.00", "0.02", "0.00"),
    ]


def test_a_credit_note_never_takes_amount_due_below_zero_and_the_excess_is_credit(billing):
    customer = billing.customer()
    invoice = billing.invoice(customer, ("FLAT", "1"))
    billing.pay(customer, "70.00")

    note = created(billing.credit_note(customer, "50.00", invoice_id=invoice["id"]))

    assert (note["applied_amount"], note["unapplied_amount"]) == ("30.00", "20.00")
    now = billing.get_invoice(invoice["id"])
    assert (now["status"], now["amount_credited"], now["amount_due"]) == ("paid", "30.00", "0.00")
    assert now["paid_on"] == DAY.isoformat()
    account = billing.account(customer)
    assert (account["balance"], account["unapplied_credit"]) == ("-20.00", "20.00")
    mark = billing.mark()

    later = billing.invoice(customer, ("FLAT", "1"))

    assert (later["amount_credited"], later["amount_due"]) == ("20.00", "80.00")
    assert billing.events("billing.payment.applied", after=mark) == [], "credit, not a payment"
    assert billing.account(customer)["unapplied_credit"] == "0.00"


def test_a_standalone_credit_note_with_a_tax_rate_is_all_account_credit(billing):
    customer = billing.customer()
    invoice = billing.invoice(customer, ("FLAT", "1"))

    note = created(billing.credit_note(customer, "124.00", tax_rate="24.00", reason="goodwill"))

    assert note["invoice_id"] is None
    assert note["lines"] == [{"tax_rate": "24.00", "net_amount": "100.00", "tax_amount": "24.00"}]
    assert (note["applied_amount"], note["unapplied_amount"]) == ("0.00", "124.00")
    assert billing.get_invoice(invoice["id"])["amount_due"] == "100.00", "open invoice untouched"
    account = billing.account(customer)
    assert (account["balance"], account["unapplied_credit"], account["open_total"]) == (
        "-24.00",
        "124.00",
        "100.00",
    )


def test_a_credit_note_with_too_many_decimals_is_422(billing):
    customer = billing.customer()
    invoice = billing.invoice(customer, ("FLAT", "1"))

    for fields in ({}, {"invoice_id": invoice["id"]}):
        answer = billing.credit_note(customer, "10.001", **fields)
        assert answer.status_code == 422
        assert "amount" in answer.get_json()["errors"]
    assert billing.credit_note(customer, "0", **fields).status_code == 422
    assert len(billing.ledger(customer)) == 1


def test_a_draft_or_void_invoice_cannot_be_credited_409(billing):
    customer = billing.customer()
    draft = billing.invoice(customer, draft=True)
    void = billing.invoice(customer)
    billing.client("admin").post(f"/invoices/{void['id']}/void", json={"reason": "dup"})

    for invoice in (draft, void):
        answer = billing.credit_note(customer, "1.00", invoice_id=invoice["id"])
        assert answer.status_code == 409, answer.get_json()
    assert [e.type for e in billing.ledger(customer)] == ["invoice", "invoice"]


def test_a_credit_note_naming_an_unknown_or_foreign_invoice_is_422(billing):
    customer, other = billing.customer(), billing.customer()
    foreign = billing.invoice(other)

    for invoice_id in (new_id(), foreign["id"]):
        answer = billing.credit_note(customer, "1.00", invoice_id=invoice_id)
        assert answer.status_code == 422
        assert "invoice_id" in answer.get_json()["errors"]
    unknown_customer = billing.credit_note(new_id(), "1.00")
    assert unknown_customer.status_code == 422
    assert "customer_id" in unknown_customer.get_json()["errors"]
    assert billing.ledger(customer) == []


def test_a_viewer_cannot_issue_a_credit_note_and_a_repeated_key_issues_one(billing):
    customer = billing.customer()
    body = {"customer_id": customer, "amount": "5.00", "date": DAY.isoformat()}
    headers = {"Idempotency-Key": "cn-1"}

    refused = billing.client("viewer").post("/credit-notes", json=body)
    first = billing.client().post("/credit-notes", json=body, headers=headers)
    again = billing.client().post("/credit-notes", json=body, headers=headers)

    assert refused.status_code == 403
    assert again.get_json()["id"] == first.get_json()["id"]
    assert len(billing.ledger(customer)) == 1
    assert billing.account(customer)["unapplied_credit"] == "5.00"
