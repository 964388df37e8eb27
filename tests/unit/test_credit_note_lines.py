"""The lines of a credit note: split over the credited invoice's tax rates, each line's net
and tax summing to its gross, and the lines summing to the credited amount."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.billing.domain import amount_due_minor, company_profile, credit_note_lines
from shared.money import to_minor

RATES = [Decimal("0"), Decimal("6"), Decimal("13"), Decimal("24")]


def invoice_line(net: str, rate: str) -> dict[str, str]:
    tax = (Decimal(net) * Decimal(rate) / 100).quantize(Decimal("0.01"))
    return {"net_amount": net, "tax_amount": str(tax), "tax_rate": rate}


def gross_of(lines: list[dict[str, str]]) -> int:
    return sum(to_minor(Decimal(x["net_amount"]) + Decimal(x["tax_amount"]), "EUR") for x in lines)


def test_a_credit_against_a_mixed_rate_invoice_splits_pro_rata() -> None:
    invoice = [invoice_line("100.00", "24"), invoice_line("50.00", "13")]  # 124.00 + 56.50
    lines = credit_note_lines(1805, "EUR", invoice, None)  # a tenth of 180.50
    assert [(x["tax_rate"], x["net_amount"], x["tax_amount"]) for x in lines] == [
        ("13.00", "5.00", "0.65"),
        ("24.00", "10.00", "2.40"),
    ]


def test_a_standalone_credit_is_one_line_at_the_rate_given_or_zero() -> None:
    assert credit_note_lines(1240, "EUR", None, Decimal("24")) == [
        {"tax_rate": "24.00", "net_amount": "10.00", "tax_amount": "2.40"}
    ]
    assert credit_note_lines(500, "EUR", None, None) == [
        {"tax_rate": "0.00", "net_amount": "5.00", "tax_amount": "0.00"}
    ]


@settings(max_examples=150, deadline=None)
@given(
    nets=st.lists(
        st.tuples(st.integers(1, 10_000_00), st.sampled_from(RATES)), min_size=1, max_size=6
    ),
    share=st.fractions(min_value=0, max_value=1),
)
def test_the_lines_always_add_up_to_the_credited_amount(nets, share) -> None:
    invoice = [invoice_line(f"{net / 100:.2f}", str(rate)) for net, rate in nets]
    amount = int(gross_of(invoice) * share)
    lines = credit_note_lines(amount, "EUR", invoice, None)
    assert gross_of(lines) == amount
    assert len({x["tax_rate"] for x in lines}) == len(lines)  # one line per rate
    assert all(Decimal(x["net_amount"]) >= 0 <= Decimal(x["tax_amount"]) for x in lines)


def test_nothing_is_due_on_a_void_or_overpaid_invoice() -> None:
    assert amount_due_minor("open", 1500) == 1500
    assert amount_due_minor("void", 1500) == 0
    assert amount_due_minor("paid", -200) == 0


def test_a_company_profile_is_whole_with_its_language_defaulted() -> None:
    profile = company_profile(
        {"name": "Ακμή ΑΕ", "email": "ar@akmi.example", "address": {"city": "Αθήνα"}},
        3,
        "2026-12-04T10:00:00Z",
    )
    assert profile["address"] == {
        "line1": None,
        "line2": None,
        "city": "Αθήνα",
        "postal_code": None,
        "region": None,
        "country": None,
    }
    assert (profile["language"], profile["version"], profile["iban"]) == ("en", 3, None)
