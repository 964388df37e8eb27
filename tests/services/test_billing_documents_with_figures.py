"""What an email is written from comes from one read (issue 17): an invoice or a credit note
with its PDF in one answer (``include=pdf``), and an account with the invoices a notice
names (``invoice_id``), so text and attachment cannot disagree."""

from __future__ import annotations

import base64
import datetime as dt

from tests.services.test_billing_company import PROFILE, folded, pdf_text, put_company

DAY = dt.date(2026, 3, 2)


def test_an_invoice_with_its_pdf_in_one_answer(billing):
    put_company(billing, PROFILE)
    customer = billing.customer(name="Figures Ltd")
    invoice = billing.invoice(customer, ("WIDGET", "1"), issue_date=DAY)
    billing.pay(customer, "50.00", invoice_id=invoice["id"])
    viewer = billing.client("viewer")

    answer = viewer.get(f"/invoices/{invoice['id']}", query_string={"include": "pdf"})

    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    plain = viewer.get(f"/invoices/{invoice['id']}")
    assert {k: v for k, v in body.items() if k != "pdf"} == plain.get_json()
    assert answer.headers["ETag"] == plain.headers["ETag"]
    assert (body["amount_paid"], body["amount_due"]) == ("50.00", "74.00")
    text = folded(pdf_text(base64.b64decode(body["pdf"])))
    for words in (invoice["number"], "Figures Ltd", "50.00", "74.00", "Tameio Demo ΑΕ"):
        assert folded(words) in text, words
    assert "pdf" not in plain.get_json()


def test_a_credit_note_with_its_pdf_in_one_answer(billing):
    customer = billing.customer()
    note = billing.credit_note(customer, "5.00", reason="Goodwill").get_json()
    viewer = billing.client("viewer")

    body = viewer.get(f"/credit-notes/{note['id']}?include=pdf").get_json()

    assert {k: v for k, v in body.items() if k != "pdf"} == note
    text = pdf_text(base64.b64decode(body["pdf"]))
    assert note["number"] in text and "5.00" in text


def test_include_names_a_document_part(billing):
    customer = billing.customer()
    invoice = billing.invoice(customer, ("WIDGET", "1"), issue_date=DAY)

    answer = billing.client("viewer").get(f"/invoices/{invoice['id']}?include=xml")

    assert answer.status_code == 422
    assert "include" in answer.get_json()["errors"]


def test_an_account_with_the_invoices_a_notice_names(billing):
    customer, other = billing.customer(), billing.customer()
    first = billing.invoice(customer, ("WIDGET", "1"), issue_date=DAY)
    second = billing.invoice(customer, ("WIDGET", "2"), issue_date=DAY)
    foreign = billing.invoice(other, ("WIDGET", "1"), issue_date=DAY)
    billing.pay(customer, "130.00", invoice_id=first["id"])  # pays it; 6.00 goes to second
    viewer = billing.client("viewer")

    answer = viewer.get(
        f"/accounts/{customer}",
        query_string=[("invoice_id", second["id"]), ("invoice_id", first["id"])],
    )

    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["unapplied_credit"] == "0.00"
    assert [i["number"] for i in body["invoices"]] == [second["number"], first["number"]]
    assert [i["amount_due"] for i in body["invoices"]] == [
        billing.get_invoice(second["id"])["amount_due"],
        "0.00",
    ]
    assert viewer.get(f"/accounts/{customer}").get_json()["invoices"] == []
    wrong = viewer.get(f"/accounts/{customer}", query_string={"invoice_id": foreign["id"]})
    assert wrong.status_code == 422
    assert "invoice_id" in wrong.get_json()["errors"]


def test_an_account_can_leave_out_the_payments_of_the_invoices_it_names(billing):
    customer = billing.customer()
    invoice = billing.invoice(customer, ("WIDGET", "1"), issue_date=DAY)
    for _ in range(3):
        billing.pay(customer, "10.00", invoice_id=invoice["id"])
    viewer = billing.client("viewer")
    path = f"/accounts/{customer}?invoice_id={invoice['id']}"

    whole = viewer.get(path).get_json()
    slim = viewer.get(f"{path}&invoice_payments=false").get_json()

    assert len(whole["invoices"][0]["payments"]) == 3
    assert "payments" not in slim["invoices"][0]
    assert slim["invoices"][0] == {k: v for k, v in whole["invoices"][0].items() if k != "payments"}
    assert {k: v for k, v in slim.items() if k != "invoices"} == {
        k: v for k, v in whole.items() if k != "invoices"
    }
    assert slim["invoices"][0]["amount_due"] == "94.00"


def test_several_accounts_in_one_answer_each_as_it_answers_alone(billing):
    first, second, third = billing.customer(), billing.customer(), billing.customer()
    a = billing.invoice(first, ("WIDGET", "1"), issue_date=DAY)
    b = billing.invoice(second, ("WIDGET", "2"), issue_date=DAY)
    c = billing.invoice(second, ("WIDGET", "1"), issue_date=DAY)
    billing.invoice(third, ("WIDGET", "1"), issue_date=DAY)
    billing.pay(second, "30.00", invoice_id=b["id"])
    viewer = billing.client("viewer")
    unknown = "00000000-0000-4000-8000-000000000001"

    answer = viewer.get(
        "/accounts",
        query_string=[
            ("customer_id", second), ("customer_id", unknown), ("customer_id", first),
            ("customer_id", second), ("customer_id", third),
            ("invoice_id", c["id"]), ("invoice_id", a["id"]), ("invoice_id", b["id"]),
            ("invoice_payments", "false"),
        ],
    )  # fmt: skip

    assert answer.status_code == 200, answer.get_json()
    items = answer.get_json()["items"]
    assert [item["customer_id"] for item in items] == [second, first, third]  # unknown left out
    for item, named in zip(items, ([c, b], [a], []), strict=True):
        alone = viewer.get(
            f"/accounts/{item['customer_id']}",
            query_string=[("invoice_id", i["id"]) for i in named] + [("invoice_payments", "false")],
        ).get_json()
        assert item == alone
    assert [i["amount_due"] for i in items[0]["invoices"]] == [
        billing.get_invoice(c["id"])["amount_due"],
        billing.get_invoice(b["id"])["amount_due"],
    ]
    assert "payments" not in items[0]["invoices"][0]


def test_accounts_refuse_an_invoice_of_none_of_them_and_a_list_without_customers(billing):
    customer, other = billing.customer(), billing.customer()
    foreign = billing.invoice(other, ("WIDGET", "1"), issue_date=DAY)
    viewer = billing.client("viewer")

    wrong = viewer.get(
        "/accounts", query_string=[("customer_id", customer), ("invoice_id", foreign["id"])]
    )
    missing = viewer.get("/accounts", query_string={"invoice_id": foreign["id"]})
    too_many = viewer.get("/accounts", query_string=[("customer_id", customer)] * 51)
    garbage = viewer.get("/accounts", query_string={"customer_id": "not-a-uuid"})

    assert wrong.status_code == 422
    assert wrong.get_json()["errors"] == {
        "invoice_id": [f"no invoice {foreign['id']} of these customers"]
    }
    for answer in (missing, too_many, garbage):
        assert answer.status_code == 422
        assert any(key.startswith("customer_id") for key in answer.get_json()["errors"])
    anonymous = billing.sut.app.test_client().get(
        "/accounts", query_string={"customer_id": customer}
    )
    assert anonymous.status_code == 401
