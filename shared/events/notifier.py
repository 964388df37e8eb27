"""Events published by the notifier service: the outcome of each notification's delivery."""

from __future__ import annotations

from marshmallow import fields

from shared.events.catalog import EventData, event
from shared.events.fields import Id, Timestamp


@event(
    "notifier.notification.sent",
    "notifier.notification.failed",
    summary="A notification was delivered, or failed for good after its retries.",
)
class NotificationSnapshot(EventData):
    id = Id(required=True)
    kind = fields.String(required=True)
    level = fields.Integer(allow_none=True)  # reminder policy level; null for other kinds
    channel = fields.String(required=True)
    to = fields.String(required=True, allow_none=True)  # null when the customer has no email
    subject = fields.String(required=True)
    body = fields.String(allow_none=True)
    status = fields.String(required=True)
    invoice_id = Id(allow_none=True)
    customer_id = Id(required=True)
    payment_id = Id(allow_none=True)
    created_at = Timestamp(required=True)
    sent_at = Timestamp(allow_none=True)
    error = fields.String(allow_none=True)
    attempts = fields.Integer(allow_none=True)
