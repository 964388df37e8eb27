"""Events published by the contracts service: the item catalog, contracts and tax rates."""

from __future__ import annotations

from marshmallow import fields

from shared.events.catalog import EventData, event
from shared.events.fields import Amount, Currency, Id, Timestamp


@event(
    "contracts.item.created",
    "contracts.item.updated",
    summary="The whole catalog item after it was created or changed (a snapshot).",
)
class ItemSnapshot(EventData):
    sku = fields.String(required=True)
    name = fields.String(required=True)
    unit_price = Amount(required=True)
    currency = Currency(required=True)
    tax_code = fields.String(required=True)
    active = fields.Boolean(allow_none=True)
    version = fields.Integer(allow_none=True)
    created_at = Timestamp(allow_none=True)
    updated_at = Timestamp(allow_none=True)


class TaxTreatment(EventData):
    type = fields.String(required=True)
    rate = Amount(allow_none=True)  # only for custom_rate
    note = fields.String(allow_none=True)


class ContractPrice(EventData):
    sku = fields.String(required=True)
    unit_price = Amount(required=True)


@event(
    "contracts.contract.activated",
    summary="The whole contract after it was activated and came into force (a snapshot).",
)
class ContractSnapshot(EventData):
    id = Id(required=True)
    customer_id = Id(required=True)
    name = fields.String(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(allow_none=True)  # null = open-ended
    discount_percent = Amount(required=True)
    tax_treatment = fields.Nested(TaxTreatment, required=True)
    prices = fields.List(fields.Nested(ContractPrice), required=True)
    currency = Currency(allow_none=True)
    status = fields.String(required=True)
    terminated_on = fields.Date(allow_none=True)
    version = fields.Integer(allow_none=True)
    created_at = Timestamp(allow_none=True)
    activated_at = Timestamp(allow_none=True)
    terminated_at = Timestamp(allow_none=True)
    updated_at = Timestamp(allow_none=True)


@event(
    "contracts.contract.terminated",
    summary="The whole contract after it was terminated, with the date it ends (a snapshot).",
)
class ContractTerminated(ContractSnapshot):
    # The pricing rule needs the termination date, so a terminated contract always has one.
    terminated_on = fields.Date(required=True)


@event(
    "contracts.tax_rates.updated",
    summary="The whole tax rate table after a change: rate percent per tax code.",
)
class TaxRatesUpdated(EventData):
    rates = fields.Dict(keys=fields.String(), values=Amount(), required=True)
    version = fields.Integer(allow_none=True)
    updated_at = Timestamp(allow_none=True)
