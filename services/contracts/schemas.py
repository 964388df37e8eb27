"""Request and response shapes of the contracts API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.events.billing import InvoiceLine
from shared.events.contracts import ContractSnapshot, ItemSnapshot
from shared.events.fields import Currency
from shared.pricing import TAX_CODES, TREATMENTS
from shared.web.lists import PageQuery
from shared.web.schemas import BusinessDate, Name, Percent, Quantity, RequestSchema, UnitPrice

SKU = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", error="1-64 letters, digits, '.', '_', '-'."
)


class ItemFields(RequestSchema):
    name = Name()
    unit_price = UnitPrice()
    currency = Currency()
    tax_code = fields.String(validate=validate.OneOf(TAX_CODES))


class ItemCreateSchema(ItemFields):
    sku = fields.String(required=True, validate=SKU)
    name = Name(required=True)
    unit_price = UnitPrice(required=True)
    currency = Currency(load_default="EUR")
    tax_code = fields.String(load_default="standard", validate=validate.OneOf(TAX_CODES))


class TaxRatesSchema(RequestSchema):
    """The whole table: every tax code with its rate percent."""

    standard = Percent(required=True)
    reduced = Percent(required=True)
    super_reduced = Percent(required=True)
    zero = Percent(required=True)


class TaxTreatmentInput(RequestSchema):
    type = fields.String(required=True, validate=validate.OneOf(TREATMENTS))
    rate = Percent(allow_none=True, load_default=None)
    note = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=500))

    @validates_schema
    def _rate_only_for_custom(self, data: dict[str, Any], **_: Any) -> None:
        if data["type"] == "custom_rate" and data.get("rate") is None:
            raise ValidationError("custom_rate needs a rate.", "rate")
        if data["type"] != "custom_rate" and data.get("rate") is not None:
            raise ValidationError("Only custom_rate takes a rate.", "rate")


class ContractPriceInput(RequestSchema):
    sku = fields.String(required=True, validate=SKU)
    unit_price = UnitPrice(required=True)


class ContractCreateSchema(RequestSchema):
    customer_id = fields.UUID(required=True)
    name = Name(required=True)
    valid_from = BusinessDate(required=True)
    valid_to = BusinessDate(allow_none=True, load_default=None)
    discount_percent = Percent(load_default=Decimal(0))
    tax_treatment = fields.Nested(TaxTreatmentInput, load_default=lambda: {"type": "standard"})
    prices = fields.List(fields.Nested(ContractPriceInput), load_default=list)

    @validates_schema
    def _dates_and_skus(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("valid_to") is not None and data["valid_to"] < data["valid_from"]:
            raise ValidationError("Must not be before valid_from.", "valid_to")
        skus = [price["sku"] for price in data.get("prices", [])]
        if len(skus) != len(set(skus)):
            raise ValidationError("Each sku at most once.", "prices")


class TerminateSchema(RequestSchema):
    effective = BusinessDate(required=True)


class ContractQuery(PageQuery):
    customer_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(["draft", "active", "terminated"]))


class QuoteLineInput(RequestSchema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    quantity = Quantity(required=True)
    unit_price = UnitPrice(allow_none=True, load_default=None)
    description = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=500)
    )


class QuoteRequestSchema(RequestSchema):
    customer_id = fields.UUID(required=True)
    date = BusinessDate(load_default=None)
    lines = fields.List(
        fields.Nested(QuoteLineInput), required=True, validate=validate.Length(min=1, max=500)
    )


class QuoteSchema(Schema):
    customer_id = fields.String(required=True)
    date = fields.Date(required=True)
    currency = fields.String(required=True)
    contract_id = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(InvoiceLine), required=True)
    subtotal = fields.Decimal(as_string=True, required=True)
    tax_total = fields.Decimal(as_string=True, required=True)
    total = fields.Decimal(as_string=True, required=True)


ItemSchema = ItemSnapshot
ContractSchema = ContractSnapshot
