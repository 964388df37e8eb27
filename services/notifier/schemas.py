"""Request and response shapes of the notifier API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.notifier.domain import TEMPLATES
from shared.events.notifier import NotificationSnapshot
from shared.web.lists import PageQuery
from shared.web.schemas import BusinessDate, RequestSchema


class LevelSchema(RequestSchema):
    level = fields.Integer(required=True, validate=validate.Range(min=1, max=20))
    days_after_due = fields.Integer(required=True, validate=validate.Range(min=-365, max=3650))
    template = fields.String(required=True, validate=validate.OneOf(TEMPLATES))


class PolicySchema(RequestSchema):
    levels = fields.List(
        fields.Nested(LevelSchema), required=True, validate=validate.Length(min=1, max=20)
    )


class NotificationQuery(PageQuery):
    customer_id = fields.UUID()
    invoice_id = fields.UUID()
    kind = fields.String(
        validate=validate.OneOf(
            [
                "invoice_issued",
                "payment_receipt",
                "partial_payment",
                "reminder",
                "credit_note",
                "refund",
                "payment_reversed",
            ]
        )
    )
    status = fields.String(
        validate=validate.OneOf(["queued", "sending", "sent", "failed", "cancelled"])
    )


class RunSchema(RequestSchema):
    as_of = BusinessDate(load_default=None, metadata={"description": "today or earlier"})
    dry_run = fields.Boolean(
        load_default=False, metadata={"description": "answer what would be sent, change nothing"}
    )


class DryRunQuery(RequestSchema):
    dry_run = fields.Boolean(load_default=False)


class RunResultSchema(Schema):
    as_of = fields.Date(required=True)
    dry_run = fields.Boolean(required=True)
    sent = fields.List(
        fields.Nested(NotificationSnapshot),
        required=True,
        metadata={"description": "the reminders sent (or, dry, that would be)"},
    )


NotificationSchema = NotificationSnapshot
