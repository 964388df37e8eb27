"""HTTP routes of the reporting service: reports as of a date, and the rebuild."""

from __future__ import annotations

from typing import Any

from services.reporting.commands import rebuild_read_models
from services.reporting.domain import REVENUE_FIGURES
from services.reporting.queries import aging, outstanding, payment_behavior, revenue
from services.reporting.schemas import (
    AsOfQuery,
    BehaviorQuery,
    PeriodQuery,
    RebuildSchema,
    ReportSchema,
)
from shared.clock import today
from shared.web.auth import requires
from shared.web.blueprint import Blueprint
from shared.web.context import unit_of_work
from shared.web.lists import list_response

blp = Blueprint("reporting", __name__, description="Aging, outstanding balances, revenue")


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
