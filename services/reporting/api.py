"""HTTP routes of the reporting service: reports as of a date, and the rebuild."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from services.reporting.projections import rebuild_read_models
from services.reporting.reports import (
    REVENUE_FIGURES,
    aging,
    outstanding,
    payment_behavior,
    revenue,
)
from shared.clock import today
from shared.events.fields import Currency
from shared.web.auth import requires
from shared.web.blueprint import Blueprint
from shared.web.context import unit_of_work
from shared.web.lists import BomFlag, list_response
from shared.web.problems import invalid
from shared.web.schemas import BusinessDate, RequestSchema

blp = Blueprint("reporting", __name__, description="Aging, outstanding balances, revenue")


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


COLUMNS = {
    "aging": (
        "current",
        "d1_30",
        "d31_60",
        "d61_90",
        "d90_plus",
        "total",
        "unapplied_credit",
        "balance",
    ),
    "outstanding": ("balance", "overdue", "oldest_overdue_days", "unapplied_credit"),
    "revenue": REVENUE_FIGURES,
    "payment-behavior": (
        "invoices_paid",
        "avg_days_to_pay",
        "avg_days_late",
        "on_time_rate",
        "partial_payments",
        "open_overdue",
        "dso",
    ),
}


def _render(report: dict[str, Any], name: str) -> Any:
    """JSON (with the parameters) or CSV (the same columns whatever the data)."""
    keys = ["month"] if report.get("group_by") == "month" else ["customer_id", "customer_name"]
    if "from" in report:
        report["from_"] = report.pop("from")
    columns = [*keys, "currency", *COLUMNS[name]]
    return list_response(report["items"], None, filename=name, columns=columns, body=report)


@blp.route("/reports/aging", methods=["GET"])
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, ReportSchema)
def aging_report(args: dict[str, Any]) -> Any:
    """Per customer and total: current, 1-30, 31-60, 61-90, 90+ days past due as of ``as_of``
    (documents and payments dated later are left out)."""
    with unit_of_work() as uow:
        return _render(aging(uow, args["as_of"] or today(), args["currency"]), "aging")


@blp.route("/reports/outstanding", methods=["GET"])
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, ReportSchema)
def outstanding_report(args: dict[str, Any]) -> Any:
    """Per customer: balance, overdue, oldest overdue days, unapplied credit."""
    with unit_of_work() as uow:
        return _render(outstanding(uow, args["as_of"] or today(), args["currency"]), "outstanding")


@blp.route("/reports/revenue", methods=["GET"])
@blp.arguments(PeriodQuery, location="query")
@blp.response(200, ReportSchema)
def revenue_report(args: dict[str, Any]) -> Any:
    """Invoiced and credited (net), net revenue, tax, the gross figures, collected and
    refunded in the period (default: the year to date), per customer or month."""
    with unit_of_work() as uow:
        return _render(revenue(uow, args["from_"], args["to"], args["group_by"]), "revenue")


@blp.route("/reports/payment-behavior", methods=["GET"])
@blp.arguments(BehaviorQuery, location="query")
@blp.response(200, ReportSchema)
def payment_behavior_report(args: dict[str, Any]) -> Any:
    """Per customer, over invoices fully paid in the period (paid date: the day the payment
    or credit that completed it is dated): average days to pay and late, on-time rate,
    partial payments (not reversed), open overdue invoices, and DSO; totals per currency
    over all customers. The period defaults to the year to date."""
    with unit_of_work() as uow:
        report = payment_behavior(uow, args["from_"], args["to"])
    return _render(report, "payment-behavior")


@blp.route("/admin/rebuild", methods=["POST"])
@requires("admin")
@blp.response(200, RebuildSchema)
def rebuild() -> Any:
    """Throw the read models away and replay the stored event log into them."""
    with unit_of_work() as uow:
        count = rebuild_read_models(uow.session)
        uow.commit()
    return {"events": count}
