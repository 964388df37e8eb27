"""Events published by the customers service."""

from __future__ import annotations

from marshmallow import fields

from shared.events.catalog import EventData, event
from shared.events.fields import Amount, Currency, Id, Timestamp


class Address(EventData):
    line1 = fields.String(allow_none=True)
    line2 = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    postal_code = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    country = fields.String(allow_none=True)


@event(
    "customers.customer.created",
    "customers.customer.updated",
    summary="The whole customer after it was created or changed (a snapshot).",
)
class CustomerSnapshot(EventData):
    id = Id(required=True)
    number = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    billing_address = fields.Nested(Address, allow_none=True)
    payment_terms = fields.String(required=True)
    currency = Currency(required=True)
    tax_id = fields.String(allow_none=True)
    credit_limit = Amount(allow_none=True)
    reminders_enabled = fields.Boolean(required=True)
    language = fields.String(allow_none=True)  # en or el: the language of its documents
    notes = fields.String(allow_none=True)
    status = fields.String(required=True)
    version = fields.Integer(required=True)
    created_at = Timestamp(required=True)
    updated_at = Timestamp(required=True)


@event("customers.customer.archived", summary="A customer was archived; the snapshot rides along.")
class CustomerArchived(EventData):
    customer_id = Id(required=True)
    customer = fields.Nested(CustomerSnapshot, required=True)


@event(
    "customers.interaction.logged",
    summary="An interaction joined a customer's communication history.",
)
class InteractionLogged(EventData):
    id = Id(required=True)
    customer_id = Id(required=True)
    channel = fields.String(required=True)
    direction = fields.String(required=True)
    subject = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    invoice_id = fields.String(allow_none=True)
    occurred_at = Timestamp(required=True)
    source = fields.String(required=True)
    author = fields.String(allow_none=True)
