"""Bad report parameters are a 422 problem naming the field (never a 500); reports need a
token; every report answers the parameters it was computed for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from shared.clock import today
from tests.services.test_reporting_support import Books, Reporting, open_books

AS_OF_REPORTS = ["/reports/aging", "/reports/outstanding"]
PERIOD = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def books(service_factory: Any) -> Iterator[Books]:
    with open_books(service_factory) as opened:
        yield opened


@pytest.fixture
def reporting(service_factory: Any) -> Reporting:
    """Reporting alone (bad input needs no data)."""
    return Reporting(service_factory("reporting", embedded=True))


def assert_invalid(answer: Any, field: str) -> None:
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["status"] == 422
    assert field in problem["errors"], problem


@pytest.mark.parametrize("path", AS_OF_REPORTS)
@pytest.mark.parametrize("as_of", ["yesterday", "2026-02-30", "30/06/2026", "2026-6-1x", ""])
def test_as_of_that_is_not_a_date_is_422(reporting, path, as_of):
    assert_invalid(reporting.get(path, as_of=as_of), "as_of")


@pytest.mark.parametrize("path", AS_OF_REPORTS)
@pytest.mark.parametrize("currency", ["XYZ", "eur", "EURO", "XAU", "12"])
def test_an_unknown_currency_is_422(reporting, path, currency):
    assert_invalid(reporting.get(path, currency=currency), "currency")


def test_revenue_from_after_a_defaulted_to_is_422(reporting):
    """Without ``to`` the period ends today, so a ``from`` after today names ``to``."""
    assert_invalid(reporting.get("/reports/revenue", **{"from": "2999-01-01"}), "to")


@pytest.mark.parametrize("field", ["from", "to"])
def test_revenue_with_an_end_that_is_not_a_date_is_422(reporting, field):
    assert_invalid(reporting.get("/reports/revenue", **{**PERIOD, field: "March"}), field)


def test_revenue_grouped_by_anything_but_customer_or_month_is_422(reporting):
    answer = reporting.get("/reports/revenue", group_by="year", **PERIOD)
    assert_invalid(answer, "group_by")


@pytest.mark.parametrize("path", AS_OF_REPORTS)
def test_a_format_other_than_json_or_csv_is_422(reporting, path):
    assert_invalid(reporting.get(path, format="xml"), "format")


@pytest.mark.parametrize("path", [*AS_OF_REPORTS, "/reports/revenue"])
def test_reports_without_a_token_are_401(reporting, path):
    answer = reporting.sut.app.test_client().get(path, query_string=PERIOD)
    assert answer.status_code == 401
    assert answer.mimetype == "application/problem+json"


def test_reports_answer_the_parameters_they_were_computed_for(books):
    books.priced_invoice(books.customer("Params Ltd", "JPY"), "900", dt.date(2026, 3, 2))
    books.sync()
    reporting = books.reporting

    aging = reporting.report("aging", as_of="2026-06-30", currency="JPY")
    outstanding = reporting.report("outstanding", currency="JPY")
    revenue = reporting.report("revenue", group_by="month", **PERIOD)

    assert (aging["as_of"], aging["currency"]) == ("2026-06-30", "JPY")
    assert (outstanding["as_of"], outstanding["currency"]) == (today().isoformat(), "JPY")
    assert (revenue["from"], revenue["to"], revenue["group_by"]) == (
        "2026-03-01",
        "2026-03-31",
        "month",
    )
    assert [len(r["items"]) for r in (aging, outstanding, revenue)] == [1, 1, 1]
