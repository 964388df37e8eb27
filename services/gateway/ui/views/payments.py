"""Payments: the list, recording one for a customer, the payment page, reversal, refunds."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from services.gateway.ui.client import ApiError
from services.gateway.ui.formatting import amount_input, parse_amount
from services.gateway.ui.pages import api, render, render_form
from services.gateway.ui.security import login_required, requires_role
from services.gateway.ui.views.common import form_errors, idempotency, page_args, section
from services.gateway.ui.views.home import customer_names
from services.gateway.ui.views.invoices import METHODS

bp = Blueprint("payments", __name__, url_prefix="/payments")


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    status = request.args.get("status", "")
    query = {"status": status if status in ("received", "applied", "reversed") else None}
    page = api().get("payments", "/payments", **query, **page_args())
    names = customer_names([p["customer_id"] for p in page["items"]])
    return render("payments/index.html", page=page, status=status, names=names)


def _amount(field: str) -> tuple[str | None, dict[str, list[str]]]:
    try:
        return str(parse_amount(request.form.get(field, ""))), {}
    except ValueError:
        example = amount_input("1234.56", "EUR")
        return None, {field: [_("Write the amount as %(example)s.", example=example)]}


@bp.route("/new", methods=["GET", "POST"])
@requires_role("clerk")
def new() -> ResponseReturnValue:
    """A payment from a customer, to one of their open invoices or to the oldest due."""
    customer_id = request.values.get("customer_id", "")
    customer = api().get("customers", f"/customers/{customer_id}")
    invoices = section(
        lambda: api().get("billing", "/invoices", customer_id=customer_id, limit=200)["items"]
    )
    open_invoices = [i for i in invoices or [] if i["status"] in ("open", "partially_paid")]
    values: dict[str, Any] = {"received_on": dt.date.today().isoformat(), "method": "bank_transfer"}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = dict(request.form)
        amount, errors = _amount("amount")
        if not errors:
            body = {
                "customer_id": customer_id,
                "amount": amount,
                "currency": customer["currency"],
                "method": request.form.get("method", "bank_transfer"),
                "reference": request.form.get("reference", "").strip() or None,
                "received_on": request.form.get("received_on") or None,
                "invoice_id": request.form.get("invoice_id") or None,
            }
            try:
                payment = api().post("payments", "/payments", body, headers=idempotency())
            except ApiError as error:
                errors = form_errors(error)
            else:
                flash(_("Payment %(number)s recorded.", number=payment["number"]), "ok")
                return redirect(url_for("payments.show", payment_id=payment["id"]))
    return render_form(
        "payments/new.html",
        customer=customer,
        open_invoices=open_invoices,
        values=values,
        errors=errors,
        methods=METHODS,
    )


@bp.route("/<uuid:payment_id>")
@login_required
def show(payment_id: Any) -> ResponseReturnValue:
    payment = api().get("payments", f"/payments/{payment_id}")
    customer = section(lambda: api().get("customers", f"/customers/{payment['customer_id']}"))
    numbers: dict[str, str] = {}
    for allocation in payment.get("allocations") or []:
        invoice = section(partial(_invoice, allocation["invoice_id"]))
        if invoice:
            numbers[allocation["invoice_id"]] = invoice["number"]
    return render("payments/show.html", payment=payment, customer=customer, numbers=numbers)


def _invoice(invoice_id: str) -> dict[str, Any]:
    return dict(api().get("billing", f"/invoices/{invoice_id}"))


@bp.route("/<uuid:payment_id>/reverse", methods=["POST"])
@requires_role("admin")
def reverse(payment_id: Any) -> ResponseReturnValue:
    reason = request.form.get("reason", "").strip() or None
    api().post("payments", f"/payments/{payment_id}/reverse", {"reason": reason})
    flash(_("Payment reversed; the invoices it paid are open again."), "ok")
    return redirect(url_for("payments.show", payment_id=payment_id))


@bp.route("/refund", methods=["GET", "POST"])
@requires_role("admin")
def refund() -> ResponseReturnValue:
    """Pay back a customer's unapplied credit."""
    customer_id = request.values.get("customer_id", "")
    customer = api().get("customers", f"/customers/{customer_id}")
    account = section(lambda: api().get("billing", f"/accounts/{customer_id}"))
    values: dict[str, Any] = {"date": dt.date.today().isoformat(), "method": "bank_transfer"}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = dict(request.form)
        amount, errors = _amount("amount")
        if not errors:
            body = {
                "customer_id": customer_id,
                "amount": amount,
                "currency": customer["currency"],
                "method": request.form.get("method", "bank_transfer"),
                "reference": request.form.get("reference", "").strip() or None,
                "date": request.form.get("date") or None,
            }
            try:
                api().post("payments", "/refunds", body, headers=idempotency())
            except ApiError as error:
                errors = form_errors(error)
            else:
                flash(_("Refund recorded."), "ok")
                return redirect(url_for("customers.show", customer_id=customer_id))
    return render_form(
        "payments/refund.html",
        customer=customer,
        account=account,
        values=values,
        errors=errors,
        methods=METHODS,
    )


@bp.route("/<uuid:payment_id>/status")
@login_required
def status(payment_id: Any) -> ResponseReturnValue:
    """For the page's poll: is the payment still waiting for billing?"""
    payment = api().get("payments", f"/payments/{payment_id}")
    return jsonify(
        settled=payment["status"] != "received",
        next=url_for("payments.show", payment_id=payment_id),
    )
