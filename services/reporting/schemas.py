"""Request and response shapes of the reporting API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from shared.clock import today
from shared.events.fields import Currency
from shared.web.lists import BomFlag
from shared.web.problems import invalid
from shared.web.schemas import BusinessDate, RequestSchema


class AsOfQuery(RequestSchema):
    as_of = BusinessDate(load_default=None)
    currency = Currency(load_default=None)
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))
    bom = BomFlag()


class BehaviorQuery(RequestSchema):
    """A period; without ``to`` it ends today, without ``from`` it starts on 1 January of
    the year of ``to`` (so by default: the current year to date)."""

    from_ = BusinessDate(data_key="from", load_default=None)
    to = BusinessDate(load_default=None)
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))
    bom = BomFlag()

    @post_load
    def _year_to_date(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["to"] = data["to"] or today()
        data["from_"] = data["from_"] or data["to"].replace(month=1, day=1)
        if data["to"] < data["from_"]:
            raise invalid("to", "must not be before from")
        return data


class PeriodQuery(BehaviorQuery):
    group_by = fields.String(
        load_default="customer", validate=validate.OneOf(["customer", "month"])
    )


class ReportSchema(Schema):
    items = fields.List(fields.Dict(), required=True)
    totals = fields.Dict(required=True, metadata={"description": "per currency"})
    # The parameters the report was computed for.
    as_of = fields.Date()
    currency = fields.String(allow_none=True)
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    group_by = fields.String()


class RebuildSchema(Schema):
    events = fields.Integer(required=True)
