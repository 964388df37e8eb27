"""The dashboard and the one search box."""

from __future__ import annotations

import datetime as dt
import re
from functools import partial
from typing import Any

from flask import Blueprint, redirect, request, url_for
from flask.typing import ResponseReturnValue

from services.gateway.ui.client import ApiError
from services.gateway.ui.pages import api, render
from services.gateway.ui.security import login_required
from services.gateway.ui.views.common import section

bp = Blueprint("home", __name__)

AGING_BUCKETS = ("current", "d1_30", "d31_60", "d61_90", "d90_plus")
CUSTOMER_NUMBER = re.compile(r"^c-?\d{1,9}$", re.IGNORECASE)
INVOICE_NUMBER = re.compile(r"^inv-\d{1,4}-\d{1,9}$", re.IGNORECASE)
PAYMENT_NUMBER = re.compile(r"^pay-[\d-]+$", re.IGNORECASE)


@bp.route("/")
@login_required
def dashboard() -> ResponseReturnValue:
    today = dt.date.today()
    outstanding = section(lambda: api().get("reporting", "/reports/outstanding"))
    aging = section(lambda: api().get("reporting", "/reports/aging"))
    revenue = section(
        lambda: api().get(
            "reporting",
            "/reports/revenue",
            **{"from": today.replace(day=1).isoformat(), "to": today.isoformat()},
        )
    )
    payments = section(lambda: api().get("payments", "/payments", limit=8))
    most_overdue: list[dict[str, Any]] = []
    if outstanding:
        rows = [r for r in outstanding["items"] if _positive(r.get("overdue"))]
        most_overdue = sorted(rows, key=lambda r: -float(r["overdue"]))[:6]
    names = customer_names([p["customer_id"] for p in (payments or {}).get("items", [])])
    return render(
        "dashboard.html",
        outstanding=outstanding,
        aging=aging,
        revenue=revenue,
        payments=payments,
        most_overdue=most_overdue,
        names=names,
        buckets=AGING_BUCKETS,
    )


def _positive(value: Any) -> bool:
    try:
        return float(value or 0) > 0
    except ValueError:
        return False


def customer_names(ids: list[str]) -> dict[str, str]:
    """Names for a few customer ids (each a GET; lists on a page are short)."""
    names: dict[str, str] = {}
    for customer_id in dict.fromkeys(ids):
        found: dict[str, Any] | None = section(partial(_one_customer, customer_id))
        if found:
            names[customer_id] = found["name"]
    return names


@bp.route("/search")
@login_required
def search() -> ResponseReturnValue:
    """Customers by name, number, email or tax id; invoices by number; payments by number
    or bank reference. One exact hit goes straight to its page."""
    q = request.args.get("q", "").strip()
    if not q:
        return render("search.html", q=q, customers=[], invoices=[], payments=[])
    customers: list[dict[str, Any]] = []
    invoices: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    if CUSTOMER_NUMBER.match(q):
        digits = int(re.sub(r"\D", "", q))
        number = f"C-{digits:06d}"
        customers = _items("customers", "/customers", number=number)
    if INVOICE_NUMBER.match(q):
        invoices = _items("billing", "/invoices", number=q.upper())
    if PAYMENT_NUMBER.match(q):
        payments = _items("payments", "/payments", number=q.upper())
    if not customers and len(q) <= 200:
        customers = _items("customers", "/customers", q=q, limit=25)
    by_reference = _items("payments", "/payments", reference=q)
    payments += [p for p in by_reference if p["id"] not in {x["id"] for x in payments}]
    hits = len(customers) + len(invoices) + len(payments)
    if hits == 1 and request.args.get("go", "1") == "1":
        if customers:
            return redirect(url_for("customers.show", customer_id=customers[0]["id"]))
        if invoices:
            return redirect(url_for("invoices.show", invoice_id=invoices[0]["id"]))
        return redirect(url_for("payments.show", payment_id=payments[0]["id"]))
    names = customer_names([d["customer_id"] for d in invoices + payments])
    return render(
        "search.html", q=q, customers=customers, invoices=invoices, payments=payments, names=names
    )


def _one_customer(customer_id: str) -> dict[str, Any] | None:
    try:
        return dict(api().get("customers", f"/customers/{customer_id}"))
    except ApiError:
        return None


def _items(service: str, path: str, **query: Any) -> list[dict[str, Any]]:
    """The items of a list, or none when the service is down (with its banner)."""

    def fetch() -> list[dict[str, Any]]:
        try:
            return list(api().get(service, path, **query)["items"])
        except ApiError:
            return []

    return section(fetch) or []
