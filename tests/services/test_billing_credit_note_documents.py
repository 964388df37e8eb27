"""Credit notes as documents (issue 17): listed by customer or invoice, paged and as CSV,
read one by one and as a PDF in the customer's language, numbered CN-YYYY-NNNNNN gaplessly
per year."""

from __future__ import annotations

import csv
import datetime as dt
import io

from tests.services.test_billing_company import PROFILE, folded, pdf_text, put_company


def credit(billing, customer, amount, day="2026-03-05", **fields):
    answer = billing.credit_note(customer, amount, date=day, **fields)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_credit_notes_are_numbered_gaplessly_per_year(billing):
    customer = billing.customer(name="Numbered Ltd")
    numbers = [
        credit(billing, customer, "1.00", day)["number"]
        for day in ("2026-03-05", "2026-12-31", "2027-01-01", "2027-01-02")
    ]

    assert numbers == ["CN-2026-000001", "CN-2026-000002", "CN-2027-000001", "CN-2027-000002"]


def test_credit_notes_are_listed_by_customer_and_invoice_newest_first_and_paged(billing):
    one, two = billing.customer(name="One Ltd"), billing.customer(name="Two Ltd")
    invoice = billing.invoice(one, ("WIDGET", "1"), issue_date=dt.date(2026, 3, 2))
    first = credit(billing, one, "12.40", invoice_id=invoice["id"])
    second = credit(billing, one, "5.00")
    credit(billing, two, "7.00")
    viewer = billing.client("viewer")

    mine = viewer.get("/credit-notes", query_string={"customer_id": one}).get_json()
    on_invoice = viewer.get("/credit-notes", query_string={"invoice_id": invoice["id"]})
    page = viewer.get("/credit-notes", query_string={"customer_id": one, "limit": 1}).get_json()
    rest = viewer.get(
        "/credit-notes", query_string={"customer_id": one, "cursor": page["next_cursor"]}
    ).get_json()

    assert [n["number"] for n in mine["items"]] == [second["number"], first["number"]]
    assert [n["id"] for n in on_invoice.get_json()["items"]] == [first["id"]]
    assert first["invoice_number"] == invoice["number"]
    assert (first["net_total"], first["tax_total"]) == ("10.00", "2.40")
    assert [n["id"] for n in page["items"] + rest["items"]] == [second["id"], first["id"]]
    assert rest["next_cursor"] is None


def test_credit_notes_come_as_csv(billing):
    customer = billing.customer(name="Αθηνά ΑΕ")
    note = credit(billing, customer, "5.00")

    answer = billing.client("viewer").get(
        "/credit-notes", query_string={"customer_id": customer, "format": "csv"}
    )

    assert answer.mimetype == "text/csv"
    (row,) = list(csv.DictReader(io.StringIO(answer.get_data().decode("utf-8-sig"))))
    assert (row["number"], row["amount"], row["currency"]) == (note["number"], "5.00", "EUR")


def test_one_credit_note_and_an_unknown_one(billing):
    note = credit(billing, billing.customer(), "5.00")
    viewer = billing.client("viewer")

    assert viewer.get(f"/credit-notes/{note['id']}").get_json() == note
    missing = viewer.get("/credit-notes/0b7f3a52-0c9e-4b8e-9d61-3f1a2b4c5d6e")
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"


def test_the_credit_note_pdf_in_english_and_greek(billing):
    put_company(billing, PROFILE)
    for language, expected in (
        ("en", ("Credit note", "Against invoice", "Applied to the invoice", "Total")),
        ("el", ("Πιστωτικό τιμολόγιο", "Για το τιμολόγιο", "Συμψηφίστηκε με το τιμολόγιο")),
    ):
        customer = billing.customer(name=f"Πελάτης {language}", language=language)
        invoice = billing.invoice(customer, ("WIDGET", "1"))
        note = credit(billing, customer, "12.40", invoice_id=invoice["id"], reason="Damaged")

        answer = billing.client("viewer").get(f"/credit-notes/{note['id']}/pdf")

        assert answer.status_code == 200
        assert answer.mimetype == "application/pdf"
        text = pdf_text(answer.data)
        for words in (*expected, note["number"], invoice["number"], "Tameio Demo ΑΕ", "12.40"):
            assert folded(words) in folded(text), (language, words)
        assert "10.00" in text and "2.40" in text
