"""The company profile (issue 17): the seller every document names, set by an admin,
published as billing.company.updated, and printed on the invoice PDF with how to pay, in
the customer's language."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import unicodedata
from typing import Any

import pypdf
import pytest

from tests.services.test_billing_support import Billing
from tests.support.events import company_data

# The profile as PUT /company takes it: the seller the event tests use, in Greek.
PROFILE: dict[str, Any] = {
    key: value
    for key, value in company_data(language="el").items()
    if key not in ("version", "updated_at")
}


def put_company(billing: Billing, body: dict[str, Any], role: str = "admin") -> Any:
    return billing.client(role).put("/company", json=body)


def folded(text: str) -> str:
    """Case and accents folded: labels are set in capitals, and Greek capitals drop accents."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def pdf_text(data: bytes) -> str:
    """The PDF's text as pdftotext sees it if installed, otherwise as pypdf does."""
    try:
        done = subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
        )
        return done.stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_before_an_admin_sets_it_the_profile_is_empty_and_english(billing):
    answer = billing.client("viewer").get("/company")

    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["version"] == 0
    assert body["name"] is None
    assert body["language"] == "en"


def test_an_admin_sets_the_profile_and_it_is_published_whole(billing):
    mark = billing.mark()

    answer = put_company(billing, PROFILE)

    assert answer.status_code == 200, answer.get_json()
    assert billing.client("viewer").get("/company").get_json() == answer.get_json()
    body = answer.get_json()
    assert body["version"] == 1
    assert {k: body[k] for k in PROFILE} == PROFILE
    (event,) = billing.events("billing.company.updated", after=mark)
    assert event["subject"] == "company"
    assert {k: event["data"][k] for k in PROFILE} == PROFILE
    assert put_company(billing, {**PROFILE, "phone": None}).get_json()["version"] == 2


def test_a_change_based_on_a_stale_version_is_409_and_changes_nothing(billing):
    first = put_company(billing, PROFILE)
    admin = billing.client("admin")
    assert admin.get("/company").headers["ETag"] == f'"{first.get_json()["version"]}"'
    seen = first.headers["ETag"]
    assert (
        admin.put(
            "/company", json={**PROFILE, "phone": "+30 210 1"}, headers={"If-Match": seen}
        ).status_code
        == 200
    )

    stale = admin.put(
        "/company", json={**PROFILE, "phone": "+30 210 2"}, headers={"If-Match": seen}
    )

    assert stale.status_code == 409, stale.get_json()
    assert admin.get("/company").get_json()["phone"] == "+30 210 1"


def test_only_an_admin_changes_the_profile(billing):
    assert put_company(billing, PROFILE, role="clerk").status_code == 403


@pytest.mark.parametrize(
    ("field", "value"),
    [("language", "de"), ("email", "not an address"), ("name", ""), ("iban", "12")],
)
def test_an_invalid_profile_is_422_naming_the_field(billing, field, value):
    answer = put_company(billing, {**PROFILE, field: value})

    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]


def invoice_pdf(billing: Billing, language: str) -> str:
    customer = billing.customer(name="Πελάτης Ένα", language=language)
    invoice = billing.invoice(customer, ("WIDGET", "2"))
    answer = billing.client("viewer").get(f"/invoices/{invoice['id']}/pdf")
    assert answer.status_code == 200
    return invoice["number"], pdf_text(answer.data)


def test_the_invoice_pdf_names_the_seller_and_how_to_pay_in_english(billing):
    put_company(billing, PROFILE)

    number, text = invoice_pdf(billing, "en")

    for expected in (
        "From",
        "Tameio Demo ΑΕ",
        "Λεωφόρος Κηφισίας 44",
        "11526 Αθήνα",
        "VAT number: EL999888777",
        "accounts@demo.test",
        "How to pay",
        "IBAN: GR1601101250000000012300695",
        "BIC: ETHNGRAA",
        f"Reference to quote: {number}",
        "Bank transfer within the due date.",
        "Amount due",
    ):
        assert folded(expected) in folded(text), expected


def test_the_invoice_pdf_of_a_greek_customer_is_in_greek(billing):
    put_company(billing, PROFILE)

    number, text = invoice_pdf(billing, "el")

    for expected in (
        f"Τιμολόγιο {number}",
        "Εκδότης",
        "Tameio Demo ΑΕ",
        "ΑΦΜ: EL999888777",
        "Τρόπος πληρωμής",
        f"Αιτιολογία κατάθεσης: {number}",
        "Πληρωτέο ποσό",
    ):
        assert folded(expected) in folded(text), expected
    assert "amount due" not in folded(text)


@pytest.mark.parametrize(
    ("language", "labels"),
    [("en", ("Unit price", "Discount", "Net")), ("el", ("Τιμή μονάδας", "Έκπτωση", "Καθαρή αξία"))],
)
def test_a_discounted_line_on_the_pdf_shows_list_price_discount_and_net(billing, language, labels):
    billing.item("CONSULT", "70.00")
    customer = billing.customer(name="Discounted Ltd", language=language)
    billing.contract(customer, valid_from=dt.date(2026, 1, 1), discount_percent="10.00")
    invoice = billing.invoice(customer, ("CONSULT", "10"))
    answer = billing.client("viewer").get(f"/invoices/{invoice['id']}/pdf")

    text = pdf_text(answer.data)

    (line,) = [row for row in text.splitlines() if "630.00" in row and "70.00" in row]
    assert "10.00%" in line
    for label in labels:
        assert folded(label) in folded(text), label
