"""`tameio demo` fills a running suite through the public API, once."""

from __future__ import annotations

import re

from click.testing import CliRunner
from playwright.sync_api import expect

from services.cli import main
from tests.ui.conftest import ADMIN, TOKEN, VIEWER, shot, sign_in


def test_demo_data_arrives_through_the_api_and_a_second_run_adds_nothing(suite, new_page):
    runner = CliRunner()
    args = ["demo", "--url", suite.base, "--token", TOKEN, "--customers", "4"]

    first = runner.invoke(main, args)
    second = runner.invoke(main, args)

    assert first.exit_code == 0, first.output
    assert "Demo data is in" in first.output
    assert second.exit_code == 0 and "already there" in second.output
    customers = suite.api("GET", "/customers/customers")["items"]
    assert len(customers) == 4
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
