"""The pricing rule (CONTRACT "Pricing rule"): price chosen, discount, tax, validity, rounding."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import exponent, round_money
from shared.pricing import (
    DEFAULT_TAX_RATES,
    TAX_CODES,
    CatalogItem,
    Contract,
    LineRequest,
    PricedDocument,
    PricingError,
    TaxTreatment,
    contract_in_force,
    price_lines,
)

D = Decimal
ON = dt.date(2026, 3, 16)
CATALOG: dict[str, CatalogItem] = {
    item.sku: item
    for item in [
        CatalogItem("WIDGET", "Widget", D("10.00"), "EUR", "standard"),
        CatalogItem("BOOK", "Book", D("20.00"), "EUR", "reduced"),
        CatalogItem("BREAD", "Bread", D("5.00"), "EUR", "super_reduced"),
        CatalogItem("EXPORT", "Export service", D("100.00"), "EUR", "zero"),
        CatalogItem("GADGET", "Gadget", D("50.00"), "USD", "standard"),
        CatalogItem("TEA", "Tea", D("1000"), "JPY", "standard"),
        CatalogItem("SAKE", "Sake", D("500"), "JPY", "reduced"),
        CatalogItem("OIL", "Oil", D("1.000"), "KWD", "standard"),
    ]
}
EXEMPT = TaxTreatment("exempt", note="Exempt under Art. 22 of the VAT code")
REVERSE_CHARGE = TaxTreatment("reverse_charge", note="Reverse charge: Art. 196 Directive 2006/112")


def line(sku: str, quantity: str = "1", unit_price: str | None = None) -> LineRequest:
    return LineRequest(sku, D(quantity), None if unit_price is None else D(unit_price))


def contract(**overrides: object) -> Contract:
    fields: dict[str, object] = {
        "id": "C-1",
        "valid_from": dt.date(2026, 1, 1),
        "valid_to": dt.date(2026, 12, 31),
    }
    fields.update(overrides)
    return Contract(**fields)  # type: ignore[arg-type]


def price(
    *lines: LineRequest,
    currency: str = "EUR",
    contracts: tuple[Contract, ...] = (),
    on: dt.date = ON,
    tax_rates: Mapping[str, Decimal] = DEFAULT_TAX_RATES,
) -> PricedDocument:
    return price_lines(
        lines, currency=currency, on=on, items=CATALOG, contracts=contracts, tax_rates=tax_rates
    )


def amounts_of(document: PricedDocument) -> list[Decimal]:
    per_line = [amount for li in document.lines for amount in (li.net_amount, li.tax_amount)]
    return [*per_line, document.subtotal, document.tax_total, document.total]


# --- the price chosen --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sku", "manual", "contract_prices", "currency", "expected"),
    [
        pytest.param("WIDGET", None, None, "EUR", "10.00", id="no contract: catalog price"),
        pytest.param(
            "WIDGET", None, {}, "EUR", "10.00", id="contract without a price for the sku: catalog"
        ),
        pytest.param(
            "WIDGET", None, {"BOOK": D("15.00")}, "EUR", "10.00", id="other sku's price: catalog"
        ),
        pytest.param(
            "WIDGET", None, {"WIDGET": D("8.00")}, "EUR", "8.00", id="contract overrides catalog"
        ),
        pytest.param(
            "WIDGET", None, {"WIDGET": D("0")}, "EUR", "0", id="contract price of 0 overrides too"
        ),
        pytest.param("WIDGET", "7.50", None, "EUR", "7.50", id="manual overrides catalog"),
        pytest.param(
            "WIDGET", "7.50", {"WIDGET": D("8.00")}, "EUR", "7.50", id="manual overrides contract"
        ),
        pytest.param(
            "WIDGET", "0", {"WIDGET": D("8.00")}, "EUR", "0", id="manual price of 0 overrides too"
        ),
        pytest.param("GADGET", None, None, "USD", "50.00", id="catalog used in its own currency"),
        pytest.param(
            "GADGET",
            None,
            {"GADGET": D("40.00")},
            "EUR",
            "40.00",
            id="catalog in another currency: contract price",
        ),
        pytest.param(
            "GADGET", "45.00", None, "EUR", "45.00", id="catalog in another currency: manual price"
        ),
        pytest.param(
            "GADGET",
            "45.00",
            {"GADGET": D("40.00")},
            "EUR",
            "45.00",
            id="catalog in another currency: manual overrides contract",
        ),
    ],
)
def test_unit_price_is_manual_else_contract_else_catalog_in_the_customers_currency(
    sku: str,
    manual: str | None,
    contract_prices: dict[str, Decimal] | None,
    currency: str,
    expected: str,
) -> None:
    contracts = () if contract_prices is None else (contract(prices=contract_prices),)
    document = price(line(sku, "2", manual), currency=currency, contracts=contracts)
    priced = document.lines[0]
    assert priced.unit_price == D(expected)
    assert priced.net_amount == round_money(2 * D(expected), currency)
    assert document.currency == currency


@pytest.mark.parametrize(
    ("lines", "contracts", "field"),
    [
        pytest.param([line("NOPE")], (), "lines.0.sku", id="unknown sku names the sku"),
        pytest.param(
            [line("WIDGET"), line("NOPE")], (), "lines.1.sku", id="unknown sku names its line"
        ),
        pytest.param([line("WIDGET", "0")], (), "lines.0.quantity", id="quantity 0 is refused"),
        pytest.param(
            [line("WIDGET", "-1")], (), "lines.0.quantity", id="negative quantity is refused"
        ),
        pytest.param(
            [line("WIDGET", "1", "5.00"), line("BOOK", "-0.0001")],
            (),
            "lines.1.quantity",
            id="negative quantity names its line",
        ),
        pytest.param(
            [line("GADGET")],
            (),
            "lines.0.unit_price",
            id="catalog in another currency without contract or manual price",
        ),
        pytest.param(
            [line("WIDGET"), line("GADGET")],
            (contract(prices={"WIDGET": D("8.00")}),),
            "lines.1.unit_price",
            id="catalog in another currency and the contract prices another sku",
        ),
        pytest.param(
            [line("GADGET")],
            (contract(activated=False, prices={"GADGET": D("40.00")}),),
            "lines.0.unit_price",
            id="catalog in another currency and only a draft contract prices it",
        ),
        pytest.param(
            [line("GADGET")],
            (contract(valid_to=dt.date(2026, 3, 15), prices={"GADGET": D("40.00")}),),
            "lines.0.unit_price",
            id="catalog in another currency and the pricing contract has expired",
        ),
    ],
)
def test_a_line_that_cannot_be_priced_is_a_pricing_error_naming_its_field(
    lines: list[LineRequest], contracts: tuple[Contract, ...], field: str
) -> None:
    with pytest.raises(PricingError) as raised:
        price(*lines, contracts=contracts)
    assert raised.value.field == field


# --- discount ----------------------------------------------------------------------------

DISCOUNT_CONTRACT = contract(discount_percent=D("10"), prices={"BOOK": D("15.00")})


@pytest.mark.parametrize(
    ("request_line", "unit_price", "net"),
    [
        pytest.param(line("WIDGET", "3"), "10.00", "27.00", id="discount on a catalog-priced line"),
        pytest.param(line("BOOK", "2"), "15.00", "27.00", id="discount on a contract-priced line"),
        pytest.param(
            line("BREAD", "1", "50.00"), "50.00", "45.00", id="discount on a manually priced line"
        ),
    ],
)
def test_the_contract_discount_applies_to_every_line_whatever_its_price_source(
    request_line: LineRequest, unit_price: str, net: str
) -> None:
    priced = price(request_line, contracts=(DISCOUNT_CONTRACT,)).lines[0]
    assert priced.unit_price == D(unit_price)
    assert priced.discount_percent == D("10")
    assert priced.net_amount == D(net)


def test_the_contract_discount_applies_to_all_lines_of_one_document() -> None:
    document = price(
        line("WIDGET", "3"),
        line("BOOK", "2"),
        line("BREAD", "1", "50.00"),
        contracts=(DISCOUNT_CONTRACT,),
    )
    assert [li.discount_percent for li in document.lines] == [D("10")] * 3
    assert [str(li.net_amount) for li in document.lines] == ["27.00", "27.00", "45.00"]
    assert document.subtotal == D("99.00")


def test_a_full_discount_gives_zero_net_and_zero_tax() -> None:
    document = price(line("WIDGET", "3"), contracts=(contract(discount_percent=D("100")),))
    assert str(document.lines[0].net_amount) == "0.00"
    assert str(document.lines[0].tax_amount) == "0.00"
    assert str(document.total) == "0.00"


# --- tax treatments ----------------------------------------------------------------------

CUSTOM_TABLE = {**DEFAULT_TAX_RATES, "standard": D("25.50")}


@pytest.mark.parametrize(
    ("treatment", "sku", "rates", "rate", "tax", "note"),
    [
        pytest.param(
            TaxTreatment(), "WIDGET", DEFAULT_TAX_RATES, "24", "24.00", None, id="standard: 24"
        ),
        pytest.param(
            TaxTreatment(), "BOOK", DEFAULT_TAX_RATES, "13", "13.00", None, id="reduced: 13"
        ),
        pytest.param(
            TaxTreatment(), "BREAD", DEFAULT_TAX_RATES, "6", "6.00", None, id="super_reduced: 6"
        ),
        pytest.param(TaxTreatment(), "EXPORT", DEFAULT_TAX_RATES, "0", "0.00", None, id="zero: 0"),
        pytest.param(
            TaxTreatment(),
            "WIDGET",
            CUSTOM_TABLE,
            "25.50",
            "25.50",
            None,
            id="standard uses the rate from the given table",
        ),
        pytest.param(
            EXEMPT, "WIDGET", DEFAULT_TAX_RATES, "0", "0.00", EXEMPT.note, id="exempt: 0 with note"
        ),
        pytest.param(
            EXEMPT, "BOOK", DEFAULT_TAX_RATES, "0", "0.00", EXEMPT.note, id="exempt ignores code"
        ),
        pytest.param(
            REVERSE_CHARGE,
            "WIDGET",
            DEFAULT_TAX_RATES,
            "0",
            "0.00",
            REVERSE_CHARGE.note,
            id="reverse_charge: 0 with note",
        ),
        pytest.param(
            TaxTreatment("custom_rate", rate=D("17.00")),
            "WIDGET",
            DEFAULT_TAX_RATES,
            "17",
            "17.00",
            None,
            id="custom_rate: its own rate",
        ),
        pytest.param(
            TaxTreatment("custom_rate", rate=D("17.00")),
            "EXPORT",
            DEFAULT_TAX_RATES,
            "17",
            "17.00",
            None,
            id="custom_rate ignores the item's tax code",
        ),
    ],
)
def test_tax_rate_and_amount_follow_the_contracts_tax_treatment(
    treatment: TaxTreatment,
    sku: str,
    rates: Mapping[str, Decimal],
    rate: str,
    tax: str,
    note: str | None,
) -> None:
    document = price(
        line(sku, "1", "100.00"),
        contracts=(contract(tax_treatment=treatment),),
        tax_rates=rates,
    )
    priced = document.lines[0]
    assert str(priced.net_amount) == "100.00"
    assert priced.tax_rate == D(rate)
    assert str(priced.tax_amount) == tax
    assert priced.tax_note == note
    assert document.tax_total == D(tax)


# --- validity of the contract ------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "day", "in_force"),
    [
        pytest.param({}, dt.date(2026, 1, 1), True, id="in force on valid_from"),
        pytest.param({}, dt.date(2025, 12, 31), False, id="not the day before valid_from"),
        pytest.param({}, dt.date(2026, 12, 31), True, id="in force on valid_to"),
        pytest.param({}, dt.date(2027, 1, 1), False, id="not the day after valid_to"),
        pytest.param({"valid_to": None}, dt.date(2099, 12, 31), True, id="open-ended: no end"),
        pytest.param(
            {"valid_to": None}, dt.date(2025, 12, 31), False, id="open-ended: still starts"
        ),
        pytest.param(
            {"terminated_on": dt.date(2026, 6, 30)},
            dt.date(2026, 6, 30),
            True,
            id="in force on the termination date",
        ),
        pytest.param(
            {"terminated_on": dt.date(2026, 6, 30)},
            dt.date(2026, 7, 1),
            False,
            id="not the day after the termination date",
        ),
        pytest.param(
            {"valid_to": None, "terminated_on": dt.date(2026, 6, 30)},
            dt.date(2026, 7, 1),
            False,
            id="termination ends an open-ended contract",
        ),
        pytest.param(
            {"terminated_on": dt.date(2027, 6, 30)},
            dt.date(2027, 1, 1),
            False,
            id="the earlier of valid_to and termination ends it",
        ),
        pytest.param(
            {"activated": False}, dt.date(2026, 6, 1), False, id="draft never applies in range"
        ),
        pytest.param(
            {"activated": False}, dt.date(2026, 1, 1), False, id="draft never applies on from"
        ),
        pytest.param(
            {"activated": False, "valid_to": None},
            dt.date(2030, 1, 1),
            False,
            id="open-ended draft never applies",
        ),
    ],
)
def test_the_contract_applies_only_while_in_force(
    overrides: dict[str, object], day: dt.date, in_force: bool
) -> None:
    candidate = contract(
        discount_percent=D("10"),
        tax_treatment=EXEMPT,
        prices={"WIDGET": D("8.00")},
        **overrides,
    )
    assert (contract_in_force([candidate], day) is candidate) is in_force
    priced_document = price(line("WIDGET"), contracts=(candidate,), on=day)
    priced = priced_document.lines[0]
    if in_force:
        assert priced_document.contract_id == "C-1"
        assert (priced.unit_price, priced.discount_percent) == (D("8.00"), D("10"))
        assert (priced.net_amount, priced.tax_amount) == (D("7.20"), D("0.00"))
    else:
        assert priced_document.contract_id is None
        assert (priced.unit_price, priced.discount_percent) == (D("10.00"), D(0))
        assert (priced.net_amount, priced.tax_amount) == (D("10.00"), D("2.40"))


@pytest.mark.parametrize(
    "contracts",
    [
        pytest.param((), id="no contract at all"),
        pytest.param(
            (contract(activated=False, discount_percent=D("20"), tax_treatment=EXEMPT),),
            id="only a draft contract",
        ),
        pytest.param(
            (contract(valid_to=dt.date(2026, 3, 15), discount_percent=D("20")),),
            id="only an expired contract",
        ),
    ],
)
def test_without_a_contract_in_force_catalog_price_no_discount_and_standard_tax_apply(
    contracts: tuple[Contract, ...],
) -> None:
    document = price(line("WIDGET", "2"), contracts=contracts)
    priced = document.lines[0]
    assert document.contract_id is None
    assert priced.unit_price == D("10.00")
    assert priced.discount_percent == 0
    assert str(priced.net_amount) == "20.00"
    assert (priced.tax_rate, str(priced.tax_amount), priced.tax_note) == (D(24), "4.80", None)
    assert str(document.total) == "24.80"


def test_of_several_contracts_the_one_in_force_on_the_date_applies() -> None:
    old = contract(id="C-OLD", valid_to=None, terminated_on=dt.date(2026, 2, 28))
    new = contract(id="C-NEW", valid_from=dt.date(2026, 3, 1), discount_percent=D("5"))
    draft = contract(id="C-DRAFT", valid_from=dt.date(2026, 3, 10), activated=False)
    assert price(line("WIDGET"), contracts=(old, new, draft)).contract_id == "C-NEW"
    on_last_old_day = price(line("WIDGET"), contracts=(old, new), on=dt.date(2026, 2, 28))
    assert on_last_old_day.contract_id == "C-OLD"


# --- rounding ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "unit_price", "discount", "net"),
    [
        pytest.param("1", "0.125", "0", "0.13", id="1 x 0.125 = 0.125 rounds up to 0.13"),
        pytest.param("3", "0.335", "0", "1.01", id="3 x 0.335 = 1.005 rounds up to 1.01"),
        pytest.param("1", "0.124", "0", "0.12", id="0.124 rounds down to 0.12"),
        pytest.param("1", "2.345", "0", "2.35", id="2.345 rounds up, not to even"),
        pytest.param("1", "0.0049", "0", "0.00", id="below half a cent rounds to 0.00"),
        pytest.param("1.5", "0.01", "0", "0.02", id="1.5 x 0.01 = 0.015 rounds up to 0.02"),
        pytest.param("1", "10.05", "50", "5.03", id="10.05 less 50% = 5.025 rounds up to 5.03"),
        pytest.param("7", "1.4285", "0", "10.00", id="7 x 1.4285 = 9.9995 rounds up to 10.00"),
    ],
)
def test_net_amount_is_rounded_half_up_per_line(
    quantity: str, unit_price: str, discount: str, net: str
) -> None:
    contracts = (contract(discount_percent=D(discount)),)
    priced = price(line("EXPORT", quantity, unit_price), contracts=contracts).lines[0]
    assert str(priced.net_amount) == net


@pytest.mark.parametrize(
    ("request_line", "treatment", "net", "tax"),
    [
        pytest.param(
            line("WIDGET", "1", "10.05"), TaxTreatment(), "10.05", "2.41", id="10.05 x 24% = 2.412"
        ),
        pytest.param(
            line("BOOK", "1", "0.50"),
            TaxTreatment(),
            "0.50",
            "0.07",
            id="0.50 x 13% = 0.065 rounds up to 0.07",
        ),
        pytest.param(
            line("BREAD", "1", "0.75"),
            TaxTreatment(),
            "0.75",
            "0.05",
            id="0.75 x 6% = 0.045 rounds up to 0.05",
        ),
        pytest.param(
            line("WIDGET", "1", "0.50"),
            TaxTreatment("custom_rate", rate=D("25")),
            "0.50",
            "0.13",
            id="0.50 x 25% = 0.125 rounds up to 0.13",
        ),
        pytest.param(
            line("WIDGET", "1", "0.125"),
            TaxTreatment("custom_rate", rate=D("50")),
            "0.13",
            "0.07",
            id="tax is on the rounded net: 0.13 x 50% = 0.065 -> 0.07, not 0.0625 -> 0.06",
        ),
    ],
)
def test_tax_amount_is_rounded_half_up_from_the_rounded_net(
    request_line: LineRequest, treatment: TaxTreatment, net: str, tax: str
) -> None:
    priced = price(request_line, contracts=(contract(tax_treatment=treatment),)).lines[0]
    assert str(priced.net_amount) == net
    assert str(priced.tax_amount) == tax


def test_totals_are_sums_of_rounded_lines_not_rounded_sums() -> None:
    document = price(*[line("BOOK", "1", "0.125")] * 3)
    assert [str(li.net_amount) for li in document.lines] == ["0.13"] * 3
    assert [str(li.tax_amount) for li in document.lines] == ["0.02"] * 3
    # Rounding the unrounded sums would give 0.375 -> 0.38 and 0.39 x 13% = 0.0507 -> 0.05.
    assert round_money(3 * D("0.125"), "EUR") == D("0.38")
    assert (str(document.subtotal), str(document.tax_total)) == ("0.39", "0.06")
    assert str(document.total) == "0.45"


# --- currencies with other exponents -----------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "request_line", "net", "tax", "total"),
    [
        pytest.param("JPY", line("TEA", "2"), "2000", "480", "2480", id="JPY catalog price"),
        pytest.param(
            "JPY", line("TEA", "3", "333.5"), "1001", "240", "1241", id="JPY 3 x 333.5 -> 1001"
        ),
        pytest.param(
            "JPY", line("TEA", "1", "1000.4999"), "1000", "240", "1240", id="JPY below half"
        ),
        pytest.param(
            "JPY", line("SAKE", "1", "50"), "50", "7", "57", id="JPY tax 50 x 13% = 6.5 -> 7"
        ),
        pytest.param(
            "KWD", line("OIL", "2"), "2.000", "0.480", "2.480", id="KWD catalog price, 3 places"
        ),
        pytest.param(
            "KWD",
            line("OIL", "1", "1.2345"),
            "1.235",
            "0.296",
            "1.531",
            id="KWD 1.2345 -> 1.235, tax 0.2964 -> 0.296",
        ),
        pytest.param(
            "KWD", line("OIL", "3", "0.3335"), "1.001", "0.240", "1.241", id="KWD 1.0005 -> 1.001"
        ),
    ],
)
def test_amounts_carry_exactly_the_currencys_exponent(
    currency: str, request_line: LineRequest, net: str, tax: str, total: str
) -> None:
    document = price(request_line, currency=currency)
    priced = document.lines[0]
    assert (str(priced.net_amount), str(priced.tax_amount)) == (net, tax)
    assert (str(document.subtotal), str(document.tax_total)) == (net, tax)
    assert str(document.total) == total


# --- properties --------------------------------------------------------------------------

CURRENCIES = ["EUR", "USD", "JPY", "KWD"]
QUANTITIES = st.decimals(
    min_value=D("0.0001"), max_value=D(10_000), places=4, allow_nan=False, allow_infinity=False
)
UNIT_PRICES = st.decimals(
    min_value=D(0), max_value=D(100_000), places=4, allow_nan=False, allow_infinity=False
)
PERCENTAGES = st.decimals(
    min_value=D(0), max_value=D(100), places=2, allow_nan=False, allow_infinity=False
)
TREATMENT_STRATEGY = st.one_of(
    st.just(TaxTreatment()),
    st.just(EXEMPT),
    st.just(REVERSE_CHARGE),
    st.builds(lambda rate: TaxTreatment("custom_rate", rate=rate), PERCENTAGES),
)


@dataclass(frozen=True)
class PricingCase:
    currency: str
    lines: tuple[LineRequest, ...]
    items: dict[str, CatalogItem]
    contract: Contract
    list_prices: tuple[Decimal, ...]  # the price each line should be charged before discount

    def price(self) -> PricedDocument:
        return price_lines(
            self.lines,
            currency=self.currency,
            on=ON,
            items=self.items,
            contracts=(self.contract,),
        )


@st.composite
def pricing_cases(
    draw: st.DrawFn, discounts: st.SearchStrategy[Decimal] = PERCENTAGES
) -> PricingCase:
    """1-5 lines priced from the catalog, the contract or by hand, under any treatment."""
    currency = draw(st.sampled_from(CURRENCIES))
    items: dict[str, CatalogItem] = {}
    contract_prices: dict[str, Decimal] = {}
    lines: list[LineRequest] = []
    list_prices: list[Decimal] = []
    for index in range(draw(st.integers(min_value=1, max_value=5))):
        sku = f"SKU-{index}"
        source = draw(st.sampled_from(["catalog", "contract", "manual"]))
        list_price = draw(UNIT_PRICES)
        tax_code = draw(st.sampled_from(TAX_CODES))
        if source == "catalog":
            items[sku] = CatalogItem(sku, sku, list_price, currency, tax_code)
        else:
            item_currency = draw(st.sampled_from(CURRENCIES))
            items[sku] = CatalogItem(sku, sku, draw(UNIT_PRICES), item_currency, tax_code)
        if source == "contract" or (source == "manual" and draw(st.booleans())):
            contract_prices[sku] = list_price if source == "contract" else draw(UNIT_PRICES)
        manual = list_price if source == "manual" else None
        lines.append(LineRequest(sku, draw(QUANTITIES), manual))
        list_prices.append(list_price)
    in_force = Contract(
        id="C-1",
        valid_from=ON,
        discount_percent=draw(discounts),
        tax_treatment=draw(TREATMENT_STRATEGY),
        prices=contract_prices,
    )
    return PricingCase(currency, tuple(lines), items, in_force, tuple(list_prices))


@given(case=pricing_cases())
def test_net_amount_is_never_negative(case: PricingCase) -> None:
    assert all(li.net_amount >= 0 for li in case.price().lines)


@given(case=pricing_cases(discounts=st.just(D(0))))
def test_without_discount_net_is_quantity_times_list_price_rounded(case: PricingCase) -> None:
    document = case.price()
    for request, list_price, priced in zip(
        case.lines, case.list_prices, document.lines, strict=True
    ):
        assert priced.unit_price == list_price
        assert priced.net_amount == round_money(request.quantity * list_price, case.currency)


@given(case=pricing_cases(), treatment=st.sampled_from([EXEMPT, REVERSE_CHARGE]))
def test_exempt_and_reverse_charge_lines_never_carry_tax(
    case: PricingCase, treatment: TaxTreatment
) -> None:
    untaxed = replace(case, contract=replace(case.contract, tax_treatment=treatment))
    document = untaxed.price()
    assert all(li.tax_amount == 0 and li.tax_rate == 0 for li in document.lines)
    assert all(li.tax_note == treatment.note for li in document.lines)
    assert document.tax_total == 0
    assert document.total == document.subtotal


@given(case=pricing_cases())
def test_totals_are_exact_sums_of_the_lines(case: PricingCase) -> None:
    document = case.price()
    assert document.subtotal == sum(li.net_amount for li in document.lines)
    assert document.tax_total == sum(li.tax_amount for li in document.lines)
    assert document.total == document.subtotal + document.tax_total


@given(case=pricing_cases())
def test_every_amount_has_exactly_the_currencys_exponent(case: PricingCase) -> None:
    places = exponent(case.currency)
    for amount in amounts_of(case.price()):
        assert amount.as_tuple().exponent == -places, (amount, case.currency)


@given(case=pricing_cases())
def test_pricing_is_deterministic(case: PricingCase) -> None:
    assert case.price() == case.price()
