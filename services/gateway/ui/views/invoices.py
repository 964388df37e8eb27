"""Invoices: the list, a new invoice (picker, lines, quote, draft or issue) and the invoice
page with payment, credit note and void."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from services.gateway.ui.client import ApiError
from services.gateway.ui.formatting import amount_input, parse_amount
from services.gateway.ui.pages import api, render, render_form
from services.gateway.ui.security import login_required, requires_role
from services.gateway.ui.views.common import form_errors, idempotency, page_args, section
from services.gateway.ui.views.home import customer_names
from shared.terms import due_date_for

bp = Blueprint("invoices", __name__, url_prefix="/invoices")

STATUSES = ("draft", "open", "partially_paid", "paid", "void")
METHODS = ("bank_transfer", "card", "cash", "check", "other")
MIN_LINES = 3


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    status = request.args.get("status", "")
    overdue = "true" if request.args.get("overdue") == "true" else None
    query = {"status": status if status in STATUSES else None, "overdue": overdue}
    page = api().get("billing", "/invoices", **query, **page_args())
    names = customer_names([i["customer_id"] for i in page["items"]])
    return render("invoices/index.html", page=page, status=status, overdue=overdue, names=names)


# -- new invoice ----------------------------------------------------------------------------


def _lines_from(form: Any) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The invoice lines a form describes (rows without an item are skipped), and errors
    keyed ``lines.N.field`` for amounts and quantities written in the wrong format."""
    lines: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    count = int(form.get("line_count") or MIN_LINES)
    for n in range(min(count, 100)):
        sku = (form.get(f"sku_{n}") or "").strip()
        if not sku:
            continue
        line: dict[str, Any] = {"sku": sku}
        for key in ("quantity", "unit_price"):
            text = (form.get(f"{key}_{n}") or "").strip()
            if key == "quantity" and not text:
                text = "1"
            if text:
                try:
                    line[key] = str(parse_amount(text))
                except ValueError:
                    errors[f"{key}_{n}"] = [
                        _("Write it as %(example)s.", example=amount_input("1234.5", "EUR"))
                    ]
        description = (form.get(f"description_{n}") or "").strip()
        if description:
            line["description"] = description
        lines.append(line)
    return lines, errors


def _line_errors(error: ApiError, lines: list[dict[str, Any]]) -> dict[str, list[str]]:
    """A service's ``lines`` errors (``{"0": {"sku": [...]}}``) by form row."""
    out = form_errors(error)
    for key in [k for k in out if k.startswith("lines.")]:
        _lines, index, field = [*key.split(".", 2), "", ""][:3]
        messages = out.pop(key)
        if index.isdigit() and field:
            out.setdefault(f"{field}_{_row_of(int(index), lines)}", []).extend(messages)
        else:
            out.setdefault("_", []).extend(messages)
    for message in out.pop("lines", []):
        index, _sep, rest = message.partition(": ")
        field, _sep2, text = rest.partition(": ")
        if index.isdigit() and field:
            out.setdefault(f"{field}_{_row_of(int(index), lines)}", []).append(text or rest)
        else:
            out.setdefault("_", []).append(message)
    return out


def _row_of(index: int, lines: list[dict[str, Any]]) -> int:
    return int(lines[index].get("_row", index)) if index < len(lines) else index


@bp.route("/new", methods=["GET", "POST"])
@requires_role("clerk")
def new() -> ResponseReturnValue:
    customer_id = request.values.get("customer_id", "").strip()
    if not customer_id:
        q = request.args.get("q", "").strip()
        found = api().get("customers", "/customers", q=q, status="active", limit=20)
        return render("invoices/pick_customer.html", q=q, customers=found["items"])
    customer = api().get("customers", f"/customers/{customer_id}")
    items = section(lambda: api().get("contracts", "/items", limit=500)["items"]) or []
    form = request.form
    values: dict[str, Any] = dict(form) if request.method == "POST" else {}
    issue = _date(values.get("issue_date")) or dt.date.today()
    values.setdefault("issue_date", issue.isoformat())
    if not values.get("due_date"):
        values["due_date"] = due_date_for(customer["payment_terms"], issue).isoformat()
    count = int(values.get("line_count") or MIN_LINES)
    action = form.get("action", "")
    if action == "add_line":
        count += 1
    values["line_count"] = str(max(count, MIN_LINES))
    errors: dict[str, list[str]] = {}
    quote = None
    if request.method == "POST" and action != "add_line":
        lines, errors = _lines_from(form)
        for n, line in enumerate(lines):
            line["_row"] = _rows_with_items(form)[n]
        if not lines:
            errors["_"] = [_("Add at least one line with an item.")]
        if not errors and action == "preview":
            quote, errors = _quote(customer_id, issue, lines)
        elif not errors and action in ("draft", "issue"):
            body = {
                "customer_id": customer_id,
                "lines": [{k: v for k, v in line.items() if k != "_row"} for line in lines],
                "issue_date": values["issue_date"],
                "due_date": values["due_date"],
                "notes": (form.get("notes") or "").strip() or None,
                "draft": action == "draft",
            }
            try:
                created = api().post("billing", "/invoices", body, headers=idempotency())
            except ApiError as error:
                errors = _line_errors(error, lines)
            else:
                if action == "draft":
                    flash(_("Draft saved."), "ok")
                else:
                    flash(_("Invoice %(number)s issued.", number=created["number"]), "ok")
                return redirect(url_for("invoices.show", invoice_id=created["id"]))
    return render_form(
        "invoices/new.html",
        customer=customer,
        items=items,
        values=values,
        errors=errors,
        quote=quote,
        line_count=int(values["line_count"]),
    )


def _rows_with_items(form: Any) -> list[int]:
    count = int(form.get("line_count") or MIN_LINES)
    return [n for n in range(min(count, 100)) if (form.get(f"sku_{n}") or "").strip()]


def _quote(
    customer_id: str, date: dt.date, lines: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    body = {
        "customer_id": customer_id,
        "date": date.isoformat(),
        "lines": [
            {k: v for k, v in line.items() if k in ("sku", "quantity", "unit_price")}
            for line in lines
        ],
    }
    try:
        return api().post("contracts", "/quotes", body), {}
    except ApiError as error:
        return None, _line_errors(error, lines)


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


# -- the invoice page -----------------------------------------------------------------------


@bp.route("/<uuid:invoice_id>")
@login_required
def show(invoice_id: Any) -> ResponseReturnValue:
    invoice = api().get("billing", f"/invoices/{invoice_id}")
    waiting = None
    waiting_id = request.args.get("waiting")
    if waiting_id in {p["payment_id"] for p in invoice.get("payments", [])}:
        # Billing has applied it (in the same transaction as these figures): done.
        return redirect(url_for("invoices.show", invoice_id=invoice_id))
    if waiting_id:
        waiting = section(lambda: _payment_or_none(waiting_id))
        if waiting is not None and waiting["status"] != "received":
            return redirect(url_for("invoices.show", invoice_id=invoice_id))
    return render("invoices/show.html", **_invoice_context(invoice, waiting=waiting))


def _payment_or_none(payment_id: str) -> dict[str, Any] | None:
    try:
        return dict(api().get("payments", f"/payments/{payment_id}"))
    except ApiError:
        return None


def _invoice_context(invoice: dict[str, Any], **extra: Any) -> dict[str, Any]:
    payments = []
    for applied in invoice.get("payments", []):
        found = section(partial(_payment_or_none, applied["payment_id"]))
        payments.append({**applied, "payment": found})
    context = {
        "invoice": invoice,
        "payments": payments,
        "credit_notes": section(partial(_credit_notes_of, invoice)),
        "methods": METHODS,
        "payment_values": {
            "amount": amount_input(invoice["amount_due"], invoice["currency"]),
            "received_on": dt.date.today().isoformat(),
            "method": "bank_transfer",
        },
        "payment_errors": {},
        "credit_values": {},
        "credit_errors": {},
        "waiting": None,
    }
    context.update(extra)
    return context


def _credit_notes_of(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    """The credit notes against this invoice, newest first (a draft has none)."""
    if not invoice.get("number"):
        return []
    found = api().get("billing", "/credit-notes", invoice_id=invoice["id"], limit=100)
    return list(found["items"])


@bp.route("/<uuid:invoice_id>/status")
@login_required
def status(invoice_id: Any) -> Response:
    """For the page's poll: has the payment it waits for been applied (or reversed)?"""
    payment_id = request.args.get("payment", "")
    payment = _payment_or_none(payment_id) if payment_id else None
    invoice = api().get("billing", f"/invoices/{invoice_id}")
    applied = payment_id in {p["payment_id"] for p in invoice.get("payments", [])}
    settled = applied or payment is None or payment["status"] != "received"
    return jsonify(settled=settled, next=url_for("invoices.show", invoice_id=invoice_id))


@bp.route("/<uuid:invoice_id>/payments", methods=["POST"])
@requires_role("clerk")
def record_payment(invoice_id: Any) -> ResponseReturnValue:
    """Record a payment against this invoice ("mark as paid" when it is the amount due)."""
    invoice = api().get("billing", f"/invoices/{invoice_id}")
    errors: dict[str, list[str]] = {}
    try:
        amount = str(parse_amount(request.form.get("amount", "")))
    except ValueError:
        errors["amount"] = [
            _("Write the amount as %(example)s.", example=amount_input("1234.56", "EUR"))
        ]
    if not errors:
        body = {
            "customer_id": invoice["customer_id"],
            "amount": amount,
            "currency": invoice["currency"],
            "method": request.form.get("method", "bank_transfer"),
            "reference": request.form.get("reference", "").strip() or None,
            "received_on": request.form.get("received_on") or None,
            "invoice_id": invoice["id"],
        }
        try:
            payment = api().post("payments", "/payments", body, headers=idempotency())
        except ApiError as error:
            errors = form_errors(error)
        else:
            # The page itself says whether it is still being applied.
            flash(_("Payment %(number)s recorded.", number=payment["number"]), "ok")
            return redirect(url_for("invoices.show", invoice_id=invoice_id, waiting=payment["id"]))
    context = _invoice_context(invoice, payment_values=request.form, payment_errors=errors)
    page = render("invoices/show.html", **context)
    page.status_code = 422
    return page


@bp.route("/<uuid:invoice_id>/credit-notes", methods=["POST"])
@requires_role("clerk")
def credit_note(invoice_id: Any) -> ResponseReturnValue:
    invoice = api().get("billing", f"/invoices/{invoice_id}")
    errors: dict[str, list[str]] = {}
    try:
        amount = str(parse_amount(request.form.get("amount", "")))
    except ValueError:
        errors["amount"] = [
            _("Write the amount as %(example)s.", example=amount_input("1234.56", "EUR"))
        ]
    if not errors:
        body = {
            "customer_id": invoice["customer_id"],
            "invoice_id": invoice["id"],
            "amount": amount,
            "reason": request.form.get("reason", "").strip() or None,
        }
        try:
            api().post("billing", "/credit-notes", body, headers=idempotency())
        except ApiError as error:
            errors = form_errors(error)
        else:
            flash(_("Credit note issued."), "ok")
            return redirect(url_for("invoices.show", invoice_id=invoice_id))
    context = _invoice_context(invoice, credit_values=request.form, credit_errors=errors)
    page = render("invoices/show.html", **context)
    page.status_code = 422
    return page


@bp.route("/<uuid:invoice_id>/issue", methods=["POST"])
@requires_role("clerk")
def issue(invoice_id: Any) -> ResponseReturnValue:
    issued = api().post("billing", f"/invoices/{invoice_id}/issue")
    flash(_("Invoice %(number)s issued.", number=issued["number"]), "ok")
    return redirect(url_for("invoices.show", invoice_id=invoice_id))


@bp.route("/<uuid:invoice_id>/void", methods=["POST"])
@requires_role("admin")
def void(invoice_id: Any) -> ResponseReturnValue:
    reason = request.form.get("reason", "").strip() or None
    api().post("billing", f"/invoices/{invoice_id}/void", {"reason": reason})
    flash(_("Invoice voided."), "ok")
    return redirect(url_for("invoices.show", invoice_id=invoice_id))


@bp.route("/<uuid:invoice_id>/pdf")
@login_required
def pdf(invoice_id: Any) -> ResponseReturnValue:
    answer = api().request("GET", "billing", f"/invoices/{invoice_id}/pdf", raw=True)
    return Response(
        answer.data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="invoice-{invoice_id}.pdf"'},
    )


@bp.route("/credit-notes/<uuid:credit_note_id>/pdf")
@login_required
def credit_note_pdf(credit_note_id: Any) -> ResponseReturnValue:
    answer = api().request("GET", "billing", f"/credit-notes/{credit_note_id}/pdf", raw=True)
    return Response(
        answer.data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="credit-note-{credit_note_id}.pdf"'},
    )
