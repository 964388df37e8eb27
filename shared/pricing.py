"""The pricing rule (CONTRACT "Pricing rule"): one pure function, used by contracts' quotes
and by billing when it prices invoices from its replica of items and contracts.

No I/O: callers pass the catalog items, tax rates and the customer's contracts they hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.money import round_money, storable

HUNDRED = Decimal(100)
TAX_CODES = ("standard", "reduced", "super_reduced", "zero")
DEFAULT_TAX_RATES: Mapping[str, Decimal] = {
    "standard": Decimal("24.00"),
    "reduced": Decimal("13.00"),
    "super_reduced": Decimal("6.00"),
    "zero": Decimal("0.00"),
}
TREATMENTS = ("standard", "exempt", "reverse_charge", "custom_rate")


_TOO_LARGE = "amounts to more than a document can hold (10^15 minor units of {currency})"


class PricingError(ValueError):
    """A line cannot be priced; ``field`` names the request field (e.g. ``lines.0.sku``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    name: str
    unit_price: Decimal
    currency: str
    tax_code: str

    @classmethod
    def from_snapshot(cls, item: Mapping[str, Any]) -> CatalogItem:
        """From an item as contracts publishes it (loaded by its event schema)."""
        return cls(
            item["sku"],
            item["name"],
            Decimal(item["unit_price"]),
            item["currency"],
            item["tax_code"],
        )


@dataclass(frozen=True)
class TaxTreatment:
    type: str = "standard"
    rate: Decimal | None = None  # custom_rate only
    note: str | None = None


@dataclass(frozen=True)
class Contract:
    id: str
    valid_from: dt.date
    valid_to: dt.date | None = None  # None: open-ended
    activated: bool = True
    terminated_on: dt.date | None = None
    discount_percent: Decimal = Decimal(0)
    tax_treatment: TaxTreatment = field(default_factory=TaxTreatment)
    prices: Mapping[str, Decimal] = field(default_factory=dict)
    currency: str | None = None  # the customer's currency when the contract was made

    @classmethod
    def from_snapshot(cls, contract: Mapping[str, Any]) -> Contract:
        """From a contract as contracts publishes it (loaded by its event schema)."""
        treatment = contract["tax_treatment"]
        rate = treatment.get("rate")
        return cls(
            id=str(contract["id"]),
            valid_from=contract["valid_from"],
            valid_to=contract.get("valid_to"),
            activated=contract["status"] in ("active", "terminated"),
            terminated_on=contract.get("terminated_on"),
            discount_percent=Decimal(contract["discount_percent"]),
            tax_treatment=TaxTreatment(
                treatment["type"], None if rate is None else Decimal(rate), treatment.get("note")
            ),
            prices={p["sku"]: Decimal(p["unit_price"]) for p in contract["prices"]},
            currency=contract.get("currency"),
        )

    @property
    def ends_on(self) -> dt.date | None:
        """The last day in force: the earlier of valid_to and the termination date."""
        ends = [day for day in (self.valid_to, self.terminated_on) if day is not None]
        return min(ends) if ends else None

    def in_force_on(self, day: dt.date) -> bool:
        return (
            self.activated
            and self.valid_from <= day
            and (self.ends_on is None or day <= self.ends_on)
        )


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: Decimal
    unit_price: Decimal | None = None  # a manual override
    description: str | None = None


@dataclass(frozen=True)
class PricedLine:
    sku: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    net_amount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal
    tax_note: str | None


@dataclass(frozen=True)
class PricedDocument:
    currency: str
    contract_id: str | None
    lines: tuple[PricedLine, ...]
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal


def contract_in_force(contracts: Iterable[Contract], day: dt.date) -> Contract | None:
    """The customer's contract in force on ``day`` (activated, valid_from <= day <= its end)."""
    candidates = [c for c in contracts if c.in_force_on(day)]
    # Active contracts of one customer never overlap; if data says otherwise, the latest wins.
    return max(candidates, key=lambda c: c.valid_from) if candidates else None


def tax_for(
    item: CatalogItem, treatment: TaxTreatment, rates: Mapping[str, Decimal]
) -> tuple[Decimal, str | None]:
    """(rate percent, note) of a line under a tax treatment."""
    if treatment.type == "standard":
        return rates[item.tax_code], treatment.note
    if treatment.type in ("exempt", "reverse_charge"):
        return Decimal(0), treatment.note
    if treatment.type == "custom_rate":
        if treatment.rate is None:
            raise ValueError("custom_rate treatment without a rate")
        return treatment.rate, treatment.note
    raise ValueError(f"unknown tax treatment {treatment.type!r}")


def _catalog_item(index: int, line: LineRequest, items: Mapping[str, CatalogItem]) -> CatalogItem:
    """The line's item; PricingError for an unknown sku or a quantity not above 0."""
    item = items.get(line.sku)
    if item is None:
        raise PricingError(f"lines.{index}.sku", f"unknown sku {line.sku!r}")
    if line.quantity <= 0:
        raise PricingError(f"lines.{index}.quantity", "must be greater than 0")
    return item


def _unit_price(
    index: int, line: LineRequest, item: CatalogItem, contract: Contract | None, currency: str
) -> Decimal:
    """The line's own price, else the contract's for the sku, else the catalog's (only in
    the customer's currency); PricingError when there is none."""
    if line.unit_price is not None:
        return line.unit_price
    if contract is not None and line.sku in contract.prices:
        return contract.prices[line.sku]
    if item.currency == currency:
        return item.unit_price
    raise PricingError(
        f"lines.{index}.unit_price",
        f"{line.sku} is priced in {item.currency}, the customer in {currency}: "
        "give a unit_price or a contract price",
    )


def price_lines(
    lines: Sequence[LineRequest],
    *,
    currency: str,
    on: dt.date,
    items: Mapping[str, CatalogItem],
    contracts: Iterable[Contract] = (),
    tax_rates: Mapping[str, Decimal] = DEFAULT_TAX_RATES,
) -> PricedDocument:
    """Price ``lines`` for a customer billed in ``currency`` on ``on``.

    unit_price = manual override, else the contract's price for the sku, else the catalog
    price (only when the item's currency is the customer's). net = round(quantity x
    unit_price x (1 - discount/100)); tax = round(net x rate/100); each rounded half-up to
    the currency's minor unit; totals are sums of rounded lines. Raises PricingError naming
    the line field that cannot be priced.
    """
    # A contract's prices are in the currency the customer had when it was made: one made
    # for another currency never applies.
    contract = contract_in_force((c for c in contracts if c.currency in (None, currency)), on)
    discount = contract.discount_percent if contract else Decimal(0)
    treatment = contract.tax_treatment if contract else TaxTreatment()
    priced: list[PricedLine] = []
    for index, line in enumerate(lines):
        item = _catalog_item(index, line, items)
        unit_price = _unit_price(index, line, item, contract, currency)
        if unit_price < 0:
            raise PricingError(f"lines.{index}.unit_price", "must not be negative")
        net = round_money(line.quantity * unit_price * (1 - discount / HUNDRED), currency)
        rate, note = tax_for(item, treatment, tax_rates)
        if not storable(net * (1 + rate / HUNDRED), currency):
            raise PricingError(f"lines.{index}.quantity", _TOO_LARGE.format(currency=currency))
        priced.append(
            PricedLine(
                sku=line.sku,
                description=line.description or item.name,
                quantity=line.quantity,
                unit_price=unit_price,
                discount_percent=discount,
                net_amount=net,
                tax_rate=rate,
                tax_amount=round_money(net * rate / HUNDRED, currency),
                tax_note=note,
            )
        )
    subtotal = sum((line.net_amount for line in priced), Decimal(0))
    tax_total = sum((line.tax_amount for line in priced), Decimal(0))
    if not storable(subtotal + tax_total, currency):
        raise PricingError("lines", _TOO_LARGE.format(currency=currency))
    return PricedDocument(
        currency=currency,
        contract_id=contract.id if contract else None,
        lines=tuple(priced),
        subtotal=round_money(subtotal, currency),
        tax_total=round_money(tax_total, currency),
        total=round_money(subtotal + tax_total, currency),
    )
