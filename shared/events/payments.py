"""Events published by the payments service: payments received and reversed, refunds.

Every event that moves money carries its business ``date`` (CONTRACT "Events").
"""

from __future__ import annotations

from marshmallow import fields

from shared.events.catalog import EventData, event
from shared.events.fields import Amount, Currency, Id, Timestamp


class RequestedAllocation(EventData):
    invoice_id = Id(required=True)
    amount = Amount(required=True)


@event(
    "payments.payment.received",
    summary="A payment was recorded: the whole payment with the allocations asked for.",
)
class PaymentReceived(EventData):
    id = Id(required=True)
    number = fields.String(required=True)
    customer_id = Id(required=True)
    amount = Amount(required=True)
    currency = Currency(required=True)
    method = fields.String(required=True)
    reference = fields.String(allow_none=True)
    received_on = fields.Date(required=True)
    date = fields.Date(required=True)  # business date: the day it was received
    allocations = fields.List(fields.Nested(RequestedAllocation), required=True)  # asked for
    invoice_id = Id(allow_none=True)  # the request named one invoice for the whole amount
    status = fields.String(required=True)
    version = fields.Integer(allow_none=True)
    created_at = Timestamp(allow_none=True)
    notify = fields.Boolean(allow_none=True)  # false: entered as history, no email


@event("payments.payment.reversed", summary="A payment was reversed (e.g. it bounced).")
class PaymentReversed(EventData):
    payment_id = Id(required=True)
    customer_id = Id(required=True)
    reason = fields.String(required=True, allow_none=True)
    date = fields.Date(required=True)  # business date of the reversal
    number = fields.String(allow_none=True)
    amount = Amount(allow_none=True)
    currency = Currency(allow_none=True)
    received_on = fields.Date(allow_none=True)
    reversed_at = Timestamp(allow_none=True)


@event("payments.refund.issued", summary="Account credit was paid back to a customer (the refund).")
class RefundIssued(EventData):
    id = Id(required=True)
    number = fields.String(allow_none=True)
    customer_id = Id(required=True)
    amount = Amount(required=True)
    currency = Currency(required=True)
    method = fields.String(required=True)
    reference = fields.String(allow_none=True)
    date = fields.Date(required=True)
    status = fields.String(allow_none=True)
    created_at = Timestamp(allow_none=True)
    notify = fields.Boolean(allow_none=True)  # false: entered as history, no email
