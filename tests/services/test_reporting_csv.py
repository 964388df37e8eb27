"""Every report as CSV (``?format=csv`` or ``Accept: text/csv``): a header and one row per
item, the same figures as the JSON; amounts are never summed across currencies."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest

from tests.services.test_reporting_support import BUCKETS, Books, money, open_books

AS_OF = "2026-06-30"
QUERIES: dict[str, dict[str, str]] = {
    "aging": {"as_of": AS_OF},
    "outstanding": {"as_of": AS_OF},
    "revenue": {"from": "2026-03-01", "to": AS_OF},
    "revenue by month": {"from": "2026-03-01", "to": AS_OF, "group_by": "month"},
}


@pytest.fixture
def books(service_factory: Any) -> Iterator[Books]:
    with open_books(service_factory) as opened:
        yield opened


@pytest.fixture
def two_currencies(books: Books) -> dict[str, str]:
    """Euro GmbH owes 124.00 EUR and Yen KK 15000 JPY, each partly paid."""
    euro = books.customer("Euro GmbH", "EUR")
    yen = books.customer("Yen KK", "JPY")
    books.invoice(euro, ("WIDGET", "1"), issue_date=dt.date(2026, 3, 2))
    books.priced_invoice(yen, "15000", dt.date(2026, 4, 2))
    books.billing.pay(euro, "24.00", on=dt.date(2026, 3, 20))
    books.billing.pay(yen, "2500", on=dt.date(2026, 4, 20), currency="JPY")
    books.sync()
    return {"EUR": euro, "JPY": yen}


def path_and_query(name: str) -> tuple[str, dict[str, str]]:
    return f"/reports/{name.split()[0]}", QUERIES[name]


@pytest.mark.parametrize("name", list(QUERIES))
def test_every_report_as_csv_is_a_header_and_one_row_per_item_with_the_json_figures(
    books, two_currencies, name
):
    path, query = path_and_query(name)
    as_json = books.reporting.get(path, **query).get_json()
    assert len(as_json["items"]) == 2

    answer = books.reporting.get(path, format="csv", **query)

    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    reader = csv.DictReader(io.StringIO(answer.get_data().decode("utf-8-sig")))
    rows = list(reader)
    assert reader.fieldnames == list(as_json["items"][0])
    assert rows == [{k: str(v) for k, v in item.items()} for item in as_json["items"]]


@pytest.mark.parametrize("name", list(QUERIES))
def test_every_report_answers_csv_to_accept_text_csv(books, two_currencies, name):
    path, query = path_and_query(name)
    by_format = books.reporting.get(path, format="csv", **query).get_data(as_text=True)

    answer = books.reporting.get(path, headers={"Accept": "text/csv"}, **query)

    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.get_data(as_text=True) == by_format


def test_amounts_carry_their_own_currencys_places_in_csv(books, two_currencies):
    answer = books.reporting.get("/reports/aging", format="csv", as_of=AS_OF)

    rows = {
        row["currency"]: row
        for row in csv.DictReader(io.StringIO(answer.get_data().decode("utf-8-sig")))
    }
    assert rows["EUR"]["total"] == "100.00"
    assert rows["JPY"]["total"] == "12500"
    assert rows["JPY"]["customer_name"] == "Yen KK"


@pytest.mark.parametrize("name", list(QUERIES))
def test_report_totals_are_per_currency_and_never_summed_across_currencies(
    books, two_currencies, name
):
    path, query = path_and_query(name)

    report = books.reporting.get(path, **query).get_json()

    assert set(report["totals"]) == {"EUR", "JPY"}
    for currency, totals in report["totals"].items():
        rows = [row for row in report["items"] if row["currency"] == currency]
        for field, value in totals.items():
            assert money(value) == sum(money(row[field]) for row in rows), (currency, field)


def test_aging_in_two_currencies_gives_each_currency_its_own_total(books, two_currencies):
    totals = books.reporting.report("aging", as_of=AS_OF)["totals"]

    assert totals["EUR"] == {
        **dict.fromkeys(BUCKETS, "0.00"),
        "d61_90": "100.00",  # due 2026-04-01: 90 days past due
        "total": "100.00",
        "unapplied_credit": "0.00",
        "balance": "100.00",
    }
    assert totals["JPY"] == {
        **dict.fromkeys(BUCKETS, "0"),
        "d31_60": "12500",  # due 2026-05-02: 59 days past due
        "total": "12500",
        "unapplied_credit": "0",
        "balance": "12500",
    }


def test_an_empty_report_as_csv_still_has_the_reports_columns(books, two_currencies):
    columns = {}
    for as_of in (AS_OF, "2026-01-01"):  # the second is before anything was issued
        answer = books.reporting.get("/reports/aging", format="csv", as_of=as_of)
        assert answer.status_code == 200
        columns[as_of] = answer.get_data().decode("utf-8-sig").splitlines()[0]

    assert columns["2026-01-01"] == columns[AS_OF]
