"""Reports: aging, outstanding, revenue and payment behaviour, each with its CSV."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, abort, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from services.gateway.ui.client import ApiError
from services.gateway.ui.pages import api, render
from services.gateway.ui.security import login_required
from services.gateway.ui.views.home import AGING_BUCKETS

bp = Blueprint("reports", __name__, url_prefix="/reports")

REPORTS = ("aging", "outstanding", "revenue", "payment-behavior")
TITLES = {
    "aging": _l("Aging"),
    "outstanding": _l("Outstanding balances"),
    "revenue": _l("Revenue"),
    "payment-behavior": _l("Payment behaviour"),
}


def _period() -> dict[str, str]:
    today = dt.date.today()
    start = _day(request.args.get("from")) or today.replace(month=1, day=1)
    end = _day(request.args.get("to")) or today
    return {"from": start.isoformat(), "to": end.isoformat()}


def _day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _params(name: str) -> dict[str, str]:
    """The report's parameters from the page's query (only the ones it takes)."""
    if name in ("aging", "outstanding"):
        as_of = _day(request.args.get("as_of")) or dt.date.today()
        return {"as_of": as_of.isoformat()}
    params = _period()
    if name == "revenue":
        group = request.args.get("group_by")
        params["group_by"] = group if group in ("customer", "month") else "customer"
    return params


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    return render("reports/index.html")


@bp.route("/<any(aging, outstanding, revenue, 'payment-behavior'):name>")
@login_required
def report(name: str) -> ResponseReturnValue:
    params = _params(name)
    error = None
    try:
        data: dict[str, Any] | None = api().get("reporting", f"/reports/{name}", **params)
    except ApiError as failed:
        data, error = None, failed.detail
    return render(
        f"reports/{name.replace('-', '_')}.html",
        name=name,
        title=TITLES[name],
        params=params,
        data=data,
        error=error,
        buckets=AGING_BUCKETS,
        top=_top(data, name, params),
    )


def _top(data: dict[str, Any] | None, name: str, params: dict[str, str]) -> float:
    """The largest value a chart draws, to scale its bars."""
    if not data:
        return 0.0
    if name == "revenue" and params.get("group_by") == "month":
        return max([float(r.get("invoiced") or 0) for r in data["items"]] + [0.0])
    return 0.0


@bp.route("/<any(aging, outstanding, revenue, 'payment-behavior'):name>.csv")
@login_required
def csv(name: str) -> ResponseReturnValue:
    if name not in REPORTS:
        abort(404)
    params = {**_params(name), "format": "csv"}
    answer = api().request("GET", "reporting", f"/reports/{name}", query=params, raw=True)
    stamp = params.get("as_of") or f"{params['from']}_{params['to']}"
    return Response(
        answer.data,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )
