"""Customer rules with no I/O: payment terms, customer numbers, search normalization, what a
change stores, and how a notification reads in the communication history."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.customers.domain import (
    address,
    customer_number,
    notification_body,
    notification_ref,
    search_key,
    search_text,
    stored_changes,
)
from shared.money import MoneyError
from shared.terms import PaymentTerms, parse_terms


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("net_0", PaymentTerms("net", 0)),
        ("net_30", PaymentTerms("net", 30)),
        ("net_365", PaymentTerms("net", 365)),
        ("eom_0", PaymentTerms("eom", 0)),
        ("eom_15", PaymentTerms("eom", 15)),
    ],
)
def test_net_and_eom_terms_with_0_to_365_days_are_accepted(
    value: str, expected: PaymentTerms
) -> None:
    assert parse_terms(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "net_-5",
        "whenever",
        "net_366",
        "eom_999",
        "net_1000",
        "NET_30",
        "Net_30",
        "net30",
        "net_",
        "net_30_",
        " net_30",
        "net_30 ",
        "net_3.5",
        "cod_30",
        "",
    ],
)
def test_anything_else_is_not_a_payment_term(value: str) -> None:
    with pytest.raises(ValueError, match="not a payment term"):
        parse_terms(value)


def test_a_term_with_a_trailing_newline_is_not_a_payment_term() -> None:
    # The API stores the value it validated; "net_30\n" must not pass for "net_30".
    with pytest.raises(ValueError, match="not a payment term"):
        parse_terms("net_30\n")


@pytest.mark.parametrize("value", ["net_٣٠", "eom_１５"])  # Arabic-Indic and full-width digits
def test_only_ascii_digits_count_as_days(value: str) -> None:
    with pytest.raises(ValueError, match="not a payment term"):
        parse_terms(value)


@given(kind=st.sampled_from(["net", "eom"]), days=st.integers(min_value=0, max_value=365))
def test_every_written_term_parses_back_to_its_kind_and_days(kind: str, days: int) -> None:
    assert parse_terms(f"{kind}_{days}") == PaymentTerms(kind, days)


@pytest.mark.parametrize(
    ("sequence", "number"),
    [(1, "C-000001"), (42, "C-000042"), (999999, "C-999999"), (1000000, "C-1000000")],
)
def test_customer_numbers_are_zero_padded_to_six_digits(sequence: int, number: str) -> None:
    assert customer_number(sequence) == number


def test_search_ignores_case_and_accents_in_greek() -> None:
    assert search_key("ΑΘΗΝΆ Hotels") == search_key("αθηνα hotels") == "αθηνα hotels"


@pytest.mark.parametrize(
    ("written", "typed"),
    [
        ("Café", "cafe"),
        ("CAFÉ", "café"),
        ("Müller GmbH", "muller gmbh"),
        ("Straße", "STRASSE"),
        ("Ελληνικά Τρόφιμα", "ελληνικα τροφιμα"),
        ("  Acme  ", "acme"),
    ],
)
def test_search_ignores_case_accents_and_surrounding_space(written: str, typed: str) -> None:
    assert search_key(written) == search_key(typed)


def test_search_still_tells_different_names_apart() -> None:
    assert search_key("Café") != search_key("Cafés")
    assert search_key("Αθηνά") != search_key("Αθήνα Β")


@given(st.text())
def test_search_key_is_idempotent(text: str) -> None:
    assert search_key(search_key(text)) == search_key(text)


def test_search_text_covers_name_email_and_number() -> None:
    text = search_text("Αθηνά Hotels", "Info@Athina.GR", "C-000007")

    for query in ("αθηνα", "info@athina.gr", "c-000007"):
        assert search_key(query) in text


def test_search_text_without_email_still_finds_name_and_number() -> None:
    text = search_text("Café Nero", None, "C-000008")

    assert search_key("cafe nero") in text
    assert search_key("C-000008") in text


def test_an_address_is_stored_with_every_key_and_nothing_else() -> None:
    given_address = {"line1": "Odos 1", "country": "GR", "colour": "blue"}

    assert address(given_address) == {
        "line1": "Odos 1",
        "line2": None,
        "city": None,
        "postal_code": None,
        "region": None,
        "country": "GR",
    }
    assert address(None) is None


def test_a_change_stores_trimmed_names_and_the_limit_in_minor_units() -> None:
    changes = stored_changes(
        {"name": "  Acme  ", "credit_limit": Decimal("1500.50"), "notes": None}, "EUR", None
    )

    assert changes == {"name": "Acme", "credit_limit_minor": 150050, "notes": None}


def test_removing_the_limit_stores_none() -> None:
    assert stored_changes({"credit_limit": None}, "EUR", 100) == {"credit_limit_minor": None}


def test_a_new_currency_re_expresses_the_limit_kept() -> None:
    assert stored_changes({"currency": "EUR"}, "JPY", 1500) == {
        "currency": "EUR",
        "credit_limit_minor": 150000,
    }
    assert stored_changes({"currency": "USD"}, "EUR", None) == {"currency": "USD"}


def test_a_limit_given_with_a_new_currency_is_in_the_new_one() -> None:
    changes = stored_changes({"currency": "JPY", "credit_limit": Decimal(900)}, "EUR", 150000)

    assert changes == {"currency": "JPY", "credit_limit_minor": 900}


def test_a_limit_that_does_not_fit_the_currency_is_refused() -> None:
    with pytest.raises(MoneyError):
        stored_changes({"currency": "JPY"}, "EUR", 150050)  # 1500.50 is not whole yen
    with pytest.raises(MoneyError):
        stored_changes({"credit_limit": Decimal("1.005")}, "EUR", None)


@given(
    limit=st.integers(min_value=0, max_value=10**12),
    currency=st.sampled_from(["EUR", "USD", "GBP"]),
    other=st.sampled_from(["EUR", "USD", "GBP", "CHF"]),
)
def test_a_limit_kept_between_two_decimal_currencies_keeps_its_amount(
    limit: int, currency: str, other: str
) -> None:
    assert stored_changes({"currency": other}, currency, limit)["credit_limit_minor"] == limit


def test_each_notification_and_outcome_is_logged_once() -> None:
    assert notification_ref("n1", failed=False) == "notification:n1:sent"
    assert notification_ref("n1", failed=True) == "notification:n1:failed"


def test_a_failed_delivery_says_so_before_the_text() -> None:
    assert notification_body("Dear Acme", None, failed=False) == "Dear Acme"
    assert notification_body(None, "ignored", failed=False) == ""
    assert notification_body("Dear Acme", "mailbox full", failed=True) == (
        "Delivery failed: mailbox full\n\nDear Acme"
    )
    assert notification_body(None, None, failed=True) == "Delivery failed: unknown error\n\n"
