"""The staff UI in a browser, on one embedded suite: `tameio demo` fills it; then the walk
a support person does all day, in English and in Greek (sign in, create a customer, find
them, invoice them, record a partial payment, see the balance and history change, log a
call, credit, read a report and download its CSV); the back office of an admin; keyboard
use, tablet width, field errors and edit conflicts."""

from __future__ import annotations

import csv
import io
import re

import pytest
import urllib3
from click.testing import CliRunner
from playwright.sync_api import expect

from services.cli import main
from tests.ui.conftest import ADMIN, CLERK, TOKEN, VIEWER, shot, sign_in


def test_demo_data_arrives_through_the_api_and_a_second_run_adds_nothing(suite, new_page):
    runner = CliRunner()
    args = ["demo", "--url", suite.base, "--token", TOKEN, "--customers", "4"]

    first = runner.invoke(main, args)
    second = runner.invoke(main, args)

    assert first.exit_code == 0, first.output
    assert "Demo data is in" in first.output
    assert second.exit_code == 0 and "already there" in second.output
    customers = suite.api("GET", "/customers/customers")["items"]
    assert len([c for c in customers if c["email"].endswith("@demo.tameio.test")]) == 4
    assert any(not c["name"].isascii() for c in customers)  # Greek names too
    assert suite.api("GET", "/billing/invoices?limit=500")["items"]
    assert suite.api("GET", "/contracts/contracts")["items"]

    page = new_page(locale="el-GR")
    sign_in(page, VIEWER)
    expect(page.locator(".kpi .value").first).not_to_have_text("0,00 €")
    shot(page, "el-13-dashboard-with-demo-data")


def test_demo_without_a_valid_token_says_so(suite):
    answer = CliRunner().invoke(main, ["demo", "--url", suite.base, "--token", "tmo_wrong"])
    assert answer.exit_code != 0
    assert "admin token" in answer.output


def test_an_admin_runs_the_back_office(suite, new_page):
    """On the demo data: users, catalog, contracts, policy, dead letters, void, reverse and
    refund, each through its page."""
    page = new_page()
    sign_in(page, ADMIN)

    page.goto("/admin/users")
    page.locator("#f-email").fill("temp@tameio.test")
    page.locator("#f-password").fill("temp-pass-1234")
    page.locator("#f-role").select_option("clerk")
    page.locator("form.stack button[type=submit]").click()
    row = page.locator("tr", has_text="temp@tameio.test")
    row.locator("select").select_option("viewer")
    row.get_by_role("button", name="Change role").click()
    expect(row.locator("select")).to_have_value("viewer")
    row.get_by_role("button", name="Disable temp@tameio.test").click()
    expect(row.locator(".badge")).to_have_text("disabled")
    shot(page, "en-15-admin-users")
    outsider = new_page()
    outsider.goto("/login")
    outsider.locator("#email").fill("temp@tameio.test")
    outsider.locator("#password").fill("temp-pass-1234")
    outsider.locator("form.stack button[type=submit]").click()
    expect(outsider.locator(".banner.error")).to_have_text("The email or password is not right.")

    page.goto("/admin/catalog")
    page.locator("#f-sku").fill("AUDIT")
    page.locator("#f-name").fill("Audit day")
    page.locator("#f-unit_price").fill("950.00")
    page.locator("form.stack button[type=submit]").first.click()
    expect(page.locator("table")).to_contain_text("Audit day")
    shot(page, "en-16-admin-catalog")

    page.goto("/admin/contracts")
    page.locator("#f-customer_number").fill("C-000002")
    page.locator("#f-name").fill("Volume deal")
    page.locator("#f-valid_from").fill("2026-01-01")
    page.locator("#f-discount_percent").fill("12.5")
    page.locator("form.stack button[type=submit]").click()
    expect(page.locator("tr", has_text="Volume deal").locator(".badge")).to_have_text("active")
    shot(page, "en-17-admin-contracts")

    page.goto("/admin/policy")
    page.locator("#days_1").fill("-5")
    page.locator("form.stack button[type=submit]").click()
    expect(page.locator(".banner.ok")).to_contain_text("Reminder policy saved")
    assert suite.api("GET", "/notifier/policy")["levels"][0]["days_after_due"] == -5
    page.goto("/admin/dead-letters")
    expect(page.locator("h1")).to_have_text("Dead letters")

    customers = suite.api("GET", "/customers/customers")["items"]
    fresh = suite.api(
        "POST",
        "/billing/invoices",
        {"customer_id": customers[0]["id"], "lines": [{"sku": "BOOK", "quantity": "1"}]},
    )
    page.goto(f"/invoices/{fresh['id']}")
    page.locator("#f-void-reason").fill("Issued twice")
    page.get_by_role("button", name="Void invoice").click()
    expect(page.locator("h1 .badge").first).to_have_class(re.compile("void"))

    applied = suite.api(
        "GET", f"/payments/payments?status=applied&customer_id={customers[0]['id']}&limit=1"
    )["items"][0]
    page.goto(f"/payments/{applied['id']}")
    page.locator("#f-reason").fill("Bounced")
    page.get_by_role("button", name="Reverse payment").click()
    expect(page.locator("h1 .badge")).to_have_class(re.compile("reversed"))

    credited = next(
        c
        for c in customers
        if float(suite.api("GET", f"/billing/accounts/{c['id']}")["unapplied_credit"]) > 0
    )
    page.goto(f"/customers/{credited['id']}")
    page.get_by_role("link", name="Refund credit").click()
    page.locator("#f-amount").fill("10.00")
    page.locator("#f-reference").fill("Refund by transfer")
    page.locator("form.card button[type=submit]").click()
    expect(page.locator(".banner.ok")).to_contain_text("Refund recorded")


WALKS = {
    "en": {
        "locale": "en-GB",
        "customer": "Northwind Traders",
        "tax_id": "GB123456789",
        "credit_limit": "1,500.00",
        "due": "€2,480.00",
        "prefilled": "2,480.00",
        "pay": "1,000.00",
        "left": "€1,480.00",
        "after_credit": "€1,380.00",
        "credit": "100.00",
        "nav": "Customers",
        "language": "English",
    },
    "el": {
        "locale": "el-GR",
        "customer": "Ακρόπολις Εμπορική Α.Ε.",
        "tax_id": "EL094014201",
        "credit_limit": "1.500,00",
        "due": "2.480,00\xa0€",
        "prefilled": "2.480,00",
        "pay": "1.000,00",
        "left": "1.480,00\xa0€",
        "after_credit": "1.380,00\xa0€",
        "credit": "100,00",
        "nav": "Πελάτες",
        "language": "Ελληνικά",
    },
}


@pytest.mark.parametrize("language", ["en", "el"])
def test_the_whole_walk(new_page, suite, language):
    walk = WALKS[language]
    page = new_page(locale=walk["locale"])
    sign_in(page, CLERK)
    expect(page.locator("nav").get_by_role("link", name=walk["nav"])).to_be_visible()
    shot(page, f"{language}-01-dashboard")

    # A new customer, with the credit limit typed the way the language writes amounts.
    page.locator("nav").get_by_role("link", name=walk["nav"]).click()
    page.locator(".page-head .actions a.button").click()
    page.locator("#f-name").fill(walk["customer"])
    page.locator("#f-email").fill(f"ap+{language}@customer.test")
    page.locator("#f-tax_id").fill(walk["tax_id"])
    page.locator("#f-address_line1").fill("Ερμού 10" if language == "el" else "1 High Street")
    page.locator("#f-address_postal_code").fill("10563")
    page.locator("#f-address_city").fill("Αθήνα" if language == "el" else "London")
    page.locator("#f-address_country").fill("GR" if language == "el" else "GB")
    page.locator("#f-credit_limit").fill(walk["credit_limit"])
    page.locator("#f-language").select_option(language)
    shot(page, f"{language}-02-new-customer")
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("h1")).to_have_text(walk["customer"])
    expect(page.locator("#customer-language")).to_have_text(walk["language"])
    number = re.search(r"C-\d{6}", page.locator(".page-head .sub").inner_text()).group(0)

    # Search everywhere: the number and the tax id each lead straight to the customer.
    for query in (number, walk["tax_id"].lower()):
        page.locator("#global-search").fill(query)
        page.locator("#global-search").press("Enter")
        expect(page.locator("h1")).to_have_text(walk["customer"])

    # An invoice from the customer page: bill-to filled in, prices quoted before issuing.
    page.locator(".page-head .actions a.button").first.click()
    expect(page.locator("dl.facts")).to_contain_text(walk["tax_id"])
    page.locator("#sku_0").select_option("CONSULT-H")
    page.locator("#quantity_0").fill("10")
    page.locator("#sku_1").select_option("LIC-Y")
    page.locator("button[value=preview]").click()
    expect(page.locator("#quote-total")).to_have_text(walk["due"])
    shot(page, f"{language}-03-new-invoice-quote")
    page.locator("button[value=issue]").click()
    expect(page.locator("h1")).to_contain_text("INV-")
    expect(page.locator("#amount-due")).to_have_text(walk["due"])
    invoice_number = re.search(r"INV-\d{4}-\d{6}", page.locator("h1").inner_text()).group(0)
    shot(page, f"{language}-04-invoice")

    # A partial payment: the amount due is filled in; staff type what arrived.
    amount = page.locator("#record-payment #f-amount")
    expect(amount).to_have_value(walk["prefilled"])
    amount.fill(walk["pay"])
    page.locator("#record-payment #f-reference").fill(f"SEPA-{language.upper()}-4711")
    page.locator("#record-payment button[type=submit]").click()
    expect(page.locator("#amount-due")).to_have_text(walk["left"], timeout=45_000)
    expect(page.locator("h1 .badge").first).to_have_class(re.compile("partially_paid"))
    shot(page, f"{language}-05-invoice-partly-paid")

    # The payment is found by its bank reference.
    page.locator("#global-search").fill(f"sepa-{language}-4711")
    page.locator("#global-search").press("Enter")
    expect(page.locator("h1")).to_contain_text("PAY-")
    shot(page, f"{language}-06-payment")

    # A credit note on the invoice lowers what is due.
    page.locator("#global-search").fill(invoice_number)
    page.locator("#global-search").press("Enter")
    page.locator("#f-credit-amount").fill(walk["credit"])
    page.locator("#f-credit-reason").fill("Goodwill")
    page.locator("#credit-note button[type=submit]").click()
    expect(page.locator("#amount-due")).to_have_text(walk["after_credit"], timeout=45_000)
    # Listed from billing's credit notes, each with its PDF.
    note = page.locator("#credit-notes tbody tr")
    expect(note).to_have_count(1)
    expect(note).to_contain_text("Goodwill")
    expect(note.get_by_role("link")).to_contain_text(re.compile(r"CN-\d{4}-\d{6}"))
    pdf = page.request.get(note.get_by_role("link").get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    shot(page, f"{language}-23-invoice-credited")

    # The customer page: balance, history with a running balance, a call logged.
    page.locator(".page-head .sub a").click()
    expect(page.locator("#balance")).to_have_text(walk["after_credit"], timeout=45_000)
    history = page.locator("#transactions tbody tr")
    expect(history).to_have_count(3, timeout=45_000)
    expect(history.first).to_contain_text(walk["after_credit"])
    page.locator("#f-channel").select_option("phone")
    page.locator("#f-subject").fill("Asked about the rest")
    page.locator("#f-body").fill("Promised the balance by Friday.")
    page.locator("#communication button[type=submit]").click()
    expect(page.locator("#communication ol.timeline")).to_contain_text(
        "Promised the balance by Friday."
    )
    shot(page, f"{language}-07-customer")

    # Reports: aging with its chart, and the CSV.
    page.goto("/reports/aging")
    expect(page.locator("svg.chart").first).to_be_visible()
    expect(page.locator("table")).to_contain_text(walk["customer"])
    shot(page, f"{language}-08-aging")
    with page.expect_download() as download:
        page.locator(".page-head .actions a").click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    names = [row.get("customer_name") for row in csv.DictReader(io.StringIO(text))]
    assert walk["customer"] in names
    assert page.console_errors == []


ADMIN_WALKS = {
    "en": {
        "locale": "en-GB",
        "admin": "Administration",
        "company": "Company profile",
        "name": "Tameio Demo Ltd",
        "city": "London",
        "saved": "Company profile saved",
        "revoke": "Revoke",
        "revoked": "revoked",
        "mine": "+30 210 1111111",
        "theirs": "+30 210 2222222",
    },
    "el": {
        "locale": "el-GR",
        "admin": "Διαχείριση",
        "company": "Στοιχεία εταιρείας",
        "name": "Ταμείο Επίδειξη Α.Ε.",
        "city": "Αθήνα",
        "saved": "Τα στοιχεία της εταιρείας αποθηκεύτηκαν",
        "revoke": "Ανάκληση",
        "revoked": "ανακλήθηκε",
        "mine": "+30 210 3333333",
        "theirs": "+30 210 4444444",
    },
}


@pytest.mark.parametrize("language", ["en", "el"])
def test_an_admin_keeps_the_company_profile_and_api_tokens(new_page, suite, language):
    """The company profile from the admin menu (errors next to the field, a concurrent
    change explained); an API token shown once, working, then revoked."""
    walk = ADMIN_WALKS[language]
    page = new_page(locale=walk["locale"])
    sign_in(page, ADMIN)
    page.locator("nav").get_by_role("link", name=walk["admin"]).click()
    page.get_by_role("link", name=walk["company"]).first.click()
    expect(page.locator("h1")).to_have_text(walk["company"])
    page.locator("#f-name").fill(walk["name"])
    page.locator("#f-email").fill(f"billing-{language}@tameio.test")
    page.locator("#f-address_line1").fill("Σταδίου 5" if language == "el" else "2 Bank Street")
    page.locator("#f-address_city").fill(walk["city"])
    page.locator("#f-address_country").fill("gr")
    page.locator("#f-iban").fill("GR16 0110")  # too short
    page.locator("#f-language").select_option(language)
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("#iban-error")).to_contain_text("IBAN")
    expect(page.locator("#f-iban")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-name")).to_have_value(walk["name"])  # nothing typed is lost
    page.locator("#f-iban").fill("GR16 0110 1250 0000 0001 2300 695")
    page.locator("form.card button[type=submit]").click()
    expect(page.locator(".banner.ok")).to_contain_text(walk["saved"])
    saved = suite.api("GET", "/billing/company")
    assert (saved["name"], saved["address"]["country"], saved["language"]) == (
        walk["name"],
        "GR",
        language,
    )
    shot(page, f"{language}-19-admin-company")

    # Someone saves the profile meanwhile: the page shows both, keeps theirs, mine on top.
    page.locator("#f-phone").fill(walk["mine"])
    profile = {k: v for k, v in saved.items() if k not in ("version", "updated_at")}
    instructions = f"Quote the invoice ({language})."
    suite.api(
        "PUT",
        "/billing/company",
        {**profile, "phone": walk["theirs"], "payment_instructions": instructions},
    )
    page.locator("form.card button[type=submit]").click()
    banner = page.locator(".banner.error")
    expect(banner.locator("tbody")).to_contain_text(walk["theirs"])
    expect(banner.locator("tbody")).to_contain_text(instructions)
    expect(page.locator("#f-payment_instructions")).to_have_value(instructions)
    expect(page.locator("#f-phone")).to_have_value(walk["mine"])
    shot(page, f"{language}-20-admin-company-conflict")
    page.locator("form.card button[type=submit]").click()
    expect(page.locator(".banner.ok")).to_contain_text(walk["saved"])
    saved = suite.api("GET", "/billing/company")
    assert (saved["phone"], saved["payment_instructions"]) == (walk["mine"], instructions)

    # An API token: shown once, works, then revoked from the same page.
    page.goto("/admin/tokens")
    page.locator("#f-name").fill(f"accounting export {language}")
    page.locator("#f-role").select_option("viewer")
    page.locator("form.stack button[type=submit]").click()
    token = page.locator("#new-token").inner_text().strip()
    shot(page, f"{language}-09-admin-token")
    assert token.startswith("tmo_")

    def customers_with(token: str) -> int:
        return urllib3.request(
            "GET",
            f"{suite.base}/api/customers/customers?limit=1",
            headers={"Authorization": f"Bearer {token}"},
        ).status

    assert customers_with(token) == 200
    page.reload()
    expect(page.locator("#new-token")).to_have_count(0)
    row = page.locator("tr", has_text=f"accounting export {language}")
    row.get_by_role("button", name=re.compile(walk["revoke"])).click()
    expect(row.locator(".badge")).to_have_text(walk["revoked"])
    assert customers_with(token) == 401


def test_signing_in_and_searching_work_by_keyboard_alone(new_page, suite):
    page = new_page()
    page.goto("/login")
    # The email field has the focus (autofocus; on a busy machine it may come a moment
    # after the load event, and keys typed before it went nowhere).
    expect(page.locator("#email")).to_be_focused()
    page.keyboard.type(CLERK[0])
    page.keyboard.press("Tab")
    page.keyboard.type(CLERK[1])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.locator("a.skip")).to_be_focused()
    page.locator("#global-search").focus()
    page.keyboard.type("C-000001")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).not_to_have_text("Search")


def test_pages_read_at_tablet_width_without_sideways_scrolling(new_page, suite):
    page = new_page(width=768, height=1024)
    sign_in(page, CLERK)
    first = suite.api("GET", "/customers/customers?limit=1")["items"]
    paths = ["/", "/customers/", "/invoices/", "/reports/aging"]
    if first:
        paths.append(f"/customers/{first[0]['id']}")
    for n, path in enumerate(paths):
        page.goto(path)
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert fits, path
        shot(page, f"tablet-{n}-{path.strip('/').replace('/', '-') or 'dashboard'}")


def test_service_errors_sit_next_to_their_field_and_a_version_conflict_is_explained(
    new_page, suite
):
    customer = suite.api("POST", "/customers/customers", {"name": "Conflict Check Ltd"})
    page = new_page()
    sign_in(page, CLERK)

    page.goto("/customers/new")
    page.locator("#f-name").fill("Bad Country Ltd")
    page.locator("#f-address_country").fill("XX")
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("#address_country-error")).to_contain_text("XX")
    expect(page.locator("#f-address_country")).to_have_attribute("aria-invalid", "true")

    # Someone changes the same field meanwhile: the page explains, and keeps both versions.
    page.goto(f"/customers/{customer['id']}/edit")
    page.locator("#f-phone").fill("+30 210 1234567")
    suite.api(
        "PATCH",
        f"/customers/customers/{customer['id']}",
        {"phone": "+30 210 7654321", "notes": "Changed meanwhile"},
    )
    page.locator("form.card button[type=submit]").click()
    banner = page.locator(".banner.error")
    expect(banner).to_contain_text("Someone else changed this customer")
    expect(banner.locator("tbody")).to_contain_text("+30 210 7654321")
    expect(banner.locator("tbody")).to_contain_text("Changed meanwhile")
    shot(page, "en-14-edit-conflict")
    expect(page.locator("#f-notes")).to_have_value("Changed meanwhile")  # theirs kept
    expect(page.locator("#f-phone")).to_have_value("+30 210 1234567")  # mine on top
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("Conflict Check Ltd")
    saved = suite.api("GET", f"/customers/customers/{customer['id']}")
    assert (saved["phone"], saved["notes"]) == ("+30 210 1234567", "Changed meanwhile")

    # Two people changing different fields do not undo each other: only changes are sent.
    page.goto(f"/customers/{customer['id']}/edit")
    page.locator("#f-email").fill("ap@conflict.test")
    other = "en" if customer["language"] == "el" else "el"
    page.locator("#f-language").select_option(other)
    suite.api("PATCH", f"/customers/customers/{customer['id']}", {"tax_id": "EL123"})
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("Conflict Check Ltd")
    saved = suite.api("GET", f"/customers/customers/{customer['id']}")
    assert (saved["email"], saved["tax_id"], saved["language"]) == (
        "ap@conflict.test",
        "EL123",
        other,
    )


def test_a_draft_started_from_the_customer_picker_is_issued_later(new_page, suite):
    suite.api("POST", "/customers/customers", {"name": "Picker Pick Ltd", "tax_id": "DE999888777"})
    page = new_page()
    sign_in(page, CLERK)
    page.goto("/invoices/new")
    page.locator("#f-q").fill("de999888")
    page.locator("#f-q").press("Enter")
    page.get_by_role("link", name="Invoice Picker Pick Ltd").click()
    expect(page.locator("h1")).to_contain_text("Picker Pick Ltd")
    page.locator("#sku_0").select_option("BOOK")
    page.locator("#quantity_0").fill("4")
    page.locator("button[value=draft]").click()
    expect(page.locator("h1")).to_contain_text("Draft invoice")
    expect(page.locator("#amount-due")).to_have_text("€113.00")  # 4 × 25.00 + 13 % tax
    page.get_by_role("button", name="Issue invoice").click()
    expect(page.locator("h1")).to_contain_text("INV-")
    expect(page.locator("h1 .badge").first).to_have_class(re.compile("open"))
