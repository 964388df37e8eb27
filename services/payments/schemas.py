"""Request and response shapes of the payments API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.events.fields import Amount, Currency, Timestamp
from shared.events.payments import RefundIssued
from shared.web.lists import PageQuery
from shared.web.schemas import AmountInput, BusinessDate, RequestSchema

METHODS = ("bank_transfer", "card", "cash", "check", "other")


class AllocationInput(RequestSchema):
    invoice_id = fields.UUID(required=True)
    amount = AmountInput(positive=True, required=True)


class PaymentCreateSchema(RequestSchema):
    customer_id = fields.UUID(required=True)
    amount = AmountInput(positive=True, required=True)
    currency = Currency(required=True)
    method = fields.String(required=True, validate=validate.OneOf(METHODS))
    reference = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    received_on = BusinessDate(load_default=None, allow_none=True)
    invoice_id = fields.UUID(load_default=None, allow_none=True)
    allocations = fields.List(
        fields.Nested(AllocationInput), load_default=list, validate=validate.Length(max=500)
    )
    notify = fields.Boolean(
        load_default=True,
        metadata={"description": "false: history import, no email is sent for it"},
    )

    @validates_schema
    def _one_way_to_point(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("invoice_id") and data.get("allocations"):
            raise ValidationError("Give invoice_id or allocations, not both.", "invoice_id")
        ids = [str(a["invoice_id"]) for a in data.get("allocations", [])]
        if len(ids) != len(set(ids)):
            raise ValidationError("Each invoice at most once.", "allocations")


class ReverseSchema(RequestSchema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    date = BusinessDate(load_default=None, allow_none=True)


class RefundCreateSchema(RequestSchema):
    customer_id = fields.UUID(required=True)
    amount = AmountInput(positive=True, required=True)
    currency = Currency(required=True)
    method = fields.String(required=True, validate=validate.OneOf(METHODS))
    reference = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    date = BusinessDate(load_default=None, allow_none=True)
    notify = fields.Boolean(
        load_default=True,
        metadata={"description": "false: history import, no email is sent for it"},
    )


class PaymentQuery(PageQuery):
    customer_id = fields.UUID()
    number = fields.String(
        validate=validate.Length(min=1, max=20),
        metadata={"description": "exactly, e.g. PAY-2026-000001"},
    )
    reference = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "the bank reference exactly, ignoring case and outer spaces"},
    )
    status = fields.String(validate=validate.OneOf(["received", "applied", "reversed"]))


class AllocationSchema(Schema):
    invoice_id = fields.String(required=True)
    amount = Amount(required=True)


class PaymentSchema(Schema):
    id = fields.String(required=True)
    number = fields.String(required=True)
    customer_id = fields.String(required=True)
    amount = Amount(required=True)
    currency = Currency(required=True)
    method = fields.String(required=True)
    reference = fields.String(allow_none=True)
    received_on = BusinessDate(required=True)
    status = fields.String(required=True, metadata={"description": "received, applied or reversed"})
    invoice_id = fields.String(allow_none=True)
    requested_allocations = fields.List(fields.Nested(AllocationSchema), required=True)
    allocations = fields.List(
        fields.Nested(AllocationSchema),
        required=True,
        metadata={"description": "as billing applied the payment (empty until then)"},
    )
    unapplied_amount = Amount(allow_none=True)
    reason = fields.String(allow_none=True)
    notify = fields.Boolean(
        required=True,
        metadata={"description": "false: entered as history, no receipt was sent for it"},
    )
    version = fields.Integer(required=True)
    created_at = Timestamp(required=True)
    reversed_at = Timestamp(allow_none=True)
    updated_at = Timestamp(required=True)


RefundSchema = RefundIssued
