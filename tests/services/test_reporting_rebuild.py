"""POST /admin/rebuild: the read models are thrown away and rebuilt from the stored event log,
giving the same reports as before; only an admin may ask for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from services.cli import main
from shared.clock import today
from shared.messaging.consumer import Outcome
from tests.services.test_reporting_support import (
    Books,
    kept_figures,
    open_books,
    report_snapshot,
)

DATES = [dt.date(2026, 3, 1), dt.date(2026, 3, 31), dt.date(2026, 4, 30), today()]


@pytest.fixture(params=["sqlite", "postgresql"])
def books(service_factory: Any, request: pytest.FixtureRequest) -> Iterator[Books]:
    with open_books(service_factory, reporting_on=request.param) as opened:
        yield opened


def run_history(books: Books) -> None:
    billing = books.billing
    first = books.customer("Rebuilt Ltd")
    second = books.customer("Yen KK", "JPY")
    one = books.invoice(first, ("WIDGET", "2"), issue_date=dt.date(2026, 3, 2))
    books.invoice(first, ("BOOK", "1"), issue_date=dt.date(2026, 4, 2))
    books.void(books.invoice(first, ("FLAT", "1"), issue_date=dt.date(2026, 3, 3))["id"])
    books.priced_invoice(second, "12000", dt.date(2026, 3, 10))
    paid = billing.pay(first, "300.00", on=dt.date(2026, 3, 20), invoice_id=one["id"])
    books.credit_note(first, "12.40", dt.date(2026, 4, 5), invoice_id=one["id"])
    billing.pay(second, "5000", on=dt.date(2026, 4, 1), currency="JPY")
    billing.pay(second, "7000", on=dt.date(2026, 4, 3), currency="JPY")  # paid off
    billing.reverse(paid, first, on=dt.date(2026, 4, 10))
    billing.refund(first, "1.00", on=dt.date(2026, 4, 12))
    billing.customer_updated(first, name="Rebuilt Group")
    books.sync()


def test_rebuild_replays_the_log_into_identical_reports(books):
    run_history(books)
    before = report_snapshot(books.reporting, DATES)
    assert before["outstanding"]["items"], "the history leaves something owed"

    answer = books.reporting.rebuild()

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"events": len(books.forwarded)}
    assert report_snapshot(books.reporting, DATES) == before


def test_rebuild_computes_the_figures_the_consumer_kept_event_by_event(books):
    run_history(books)
    kept = kept_figures(books.reporting)
    assert any(row["balance_minor"] for row in kept["rp_day_balances"])
    assert any(row["settled_minor"] for row in kept["rp_invoices"])
    assert any(row["cleared_on"] for row in kept["rp_invoices"]), "one was paid off"

    assert books.reporting.rebuild().status_code == 200

    assert kept_figures(books.reporting) == kept


def test_rebuild_twice_and_after_duplicates_still_gives_identical_reports(books):
    run_history(books)
    before = report_snapshot(books.reporting, DATES)
    assert {books.reporting.deliver(body) for body in books.forwarded} == {Outcome.DUPLICATE}

    for _ in range(2):
        answer = books.reporting.rebuild()
        assert answer.get_json() == {"events": len(books.forwarded)}
    assert report_snapshot(books.reporting, DATES) == before


def test_rebuild_keeps_the_events_that_came_after_it(books):
    run_history(books)
    books.reporting.rebuild()
    customer = books.customer("After Rebuild Ltd")
    books.priced_invoice(customer, "70.00", dt.date(2026, 5, 1))
    books.sync()
    expected = report_snapshot(books.reporting, DATES)

    assert books.reporting.rebuild().get_json() == {"events": len(books.forwarded)}
    assert report_snapshot(books.reporting, DATES) == expected
    row = books.reporting.row("aging", customer, as_of=today().isoformat())
    assert row is not None and row["total"] == "70.00"


@pytest.mark.parametrize("role", ["viewer", "clerk"])
def test_rebuild_is_for_admins_only(books, role):
    run_history(books)
    before = report_snapshot(books.reporting, DATES)

    answer = books.reporting.rebuild(role=role)

    assert answer.status_code == 403, answer.get_json()
    assert answer.mimetype == "application/problem+json"
    assert report_snapshot(books.reporting, DATES) == before


def test_rebuild_without_a_token_is_401(books):
    answer = books.reporting.sut.app.test_client().post("/admin/rebuild")
    assert answer.status_code == 401


def test_the_rebuild_command_gives_identical_reports_without_an_http_time_limit(books, monkeypatch):
    run_history(books)
    before = report_snapshot(books.reporting, DATES)
    monkeypatch.setenv("TAMEIO_REPORTING_DATABASE_URL", books.reporting.sut.settings.database_url)

    result = CliRunner().invoke(main, ["rebuild-reports"])

    assert result.exit_code == 0, result.output
    assert f"rebuilt from {len(books.forwarded)} logged events" in result.output
    assert report_snapshot(books.reporting, DATES) == before
