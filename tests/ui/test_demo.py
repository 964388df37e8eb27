"""`tameio demo` fills a running suite through the public API, once."""

from __future__ import annotations

from click.testing import CliRunner
from playwright.sync_api import expect

from services.cli import main
from tests.ui.conftest import TOKEN, VIEWER, shot, sign_in


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
