"""Customers: the list, a new customer, and the customer page with everything about them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from services.gateway.ui.client import ApiError, ServiceDown
from services.gateway.ui.formatting import amount_input, parse_amount
from services.gateway.ui.pages import api, render
from services.gateway.ui.security import login_required, requires_role
from services.gateway.ui.views.common import form_errors, idempotency, page_args, section

bp = Blueprint("customers", __name__, url_prefix="/customers")

ADDRESS = ("line1", "line2", "city", "postal_code", "region", "country")
TEXT_FIELDS = ("name", "email", "phone", "tax_id", "notes")
CHANNELS = ("phone", "email", "meeting", "note", "letter", "sms")
LANGUAGES = ("en", "el")


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    q = request.args.get("q", "").strip()
    status = request.args.get("status", "")
    page = api().get("customers", "/customers", q=q, status=status, **page_args())
    return render("customers/index.html", page=page, q=q, status=status)


def customer_form(form: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The API body a customer form describes, and errors of fields the page can check
    itself (an amount in the reader's format)."""
    body: dict[str, Any] = {key: (form.get(key) or "").strip() or None for key in TEXT_FIELDS}
    address = {key: (form.get(f"address_{key}") or "").strip() or None for key in ADDRESS}
    if address["country"]:
        address["country"] = address["country"].upper()
    body["billing_address"] = address if any(address.values()) else None
    body["payment_terms"] = form.get("payment_terms") or "net_30"
    body["currency"] = (form.get("currency") or "EUR").strip().upper()
    body["reminders_enabled"] = form.get("reminders_enabled") == "on"
    # Empty on a new customer: the service gives them the company profile's language.
    language = form.get("language") or None
    body["language"] = language if language in LANGUAGES else None
    errors: dict[str, list[str]] = {}
    limit = (form.get("credit_limit") or "").strip()
    body["credit_limit"] = None
    if limit:
        try:
            body["credit_limit"] = str(parse_amount(limit))
        except ValueError:
            errors["credit_limit"] = [amount_hint()]
    return body, errors


def amount_hint() -> str:
    return _("Write the amount as %(example)s.", example=amount_input("1234.56", "EUR"))


def _flat_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """billing_address.country from the API is the form's address_country."""
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        if key.startswith("billing_address."):
            out.setdefault("address_" + key.partition(".")[2], []).extend(messages)
        elif key == "billing_address":
            for message in messages:
                field, _sep, text = message.partition(": ")
                out.setdefault(f"address_{field}", []).append(text or message)
        else:
            out[key] = messages
    return out


@bp.route("/new", methods=["GET", "POST"])
@requires_role("clerk")
def new() -> ResponseReturnValue:
    if request.method == "GET":
        values = {"language": _company_language() or ""}
        return render("customers/form.html", values=values, errors={}, customer=None)
    body, errors = customer_form(request.form)
    if not errors:
        try:
            created = api().post(
                "customers",
                "/customers",
                {k: v for k, v in body.items() if v is not None},
                headers=idempotency(),
            )
        except ApiError as error:
            errors = _flat_errors(form_errors(error))
        else:
            flash(_("Customer %(number)s created.", number=created["number"]), "ok")
            return redirect(url_for("customers.show", customer_id=created["id"]))
    page = render("customers/form.html", values=request.form, errors=errors, customer=None)
    page.status_code = 422
    return page


def _company_language() -> str | None:
    """The language new customers get (the company profile's), or None when billing is
    down: then the form leaves it to the service, which knows it too."""
    try:
        language = api().get("billing", "/company").get("language")
    except (ApiError, ServiceDown):
        return None
    return str(language) if language in LANGUAGES else None


def _values_of(customer: dict[str, Any]) -> dict[str, Any]:
    values = {key: customer.get(key) or "" for key in TEXT_FIELDS}
    for key in ADDRESS:
        values[f"address_{key}"] = (customer.get("billing_address") or {}).get(key) or ""
    values["payment_terms"] = customer["payment_terms"]
    values["currency"] = customer["currency"]
    values["credit_limit"] = amount_input(customer.get("credit_limit"), customer["currency"])
    values["reminders_enabled"] = "on" if customer["reminders_enabled"] else ""
    values["language"] = customer.get("language") or "en"
    values["version"] = customer["version"]
    return values


@bp.route("/<uuid:customer_id>/edit", methods=["GET", "POST"])
@requires_role("clerk")
def edit(customer_id: Any) -> ResponseReturnValue:
    """Edit the profile. Only the fields this user changed are sent (with If-Match), so
    two people changing different fields never undo each other; when the same record
    changed meanwhile, the page shows what is saved now beside what this user typed."""
    customer = api().get("customers", f"/customers/{customer_id}")
    if request.method == "GET":
        values = _values_of(customer)
        return render(
            "customers/form.html",
            values=values,
            originals=values,
            errors={},
            customer=customer,
        )
    body, errors = customer_form(request.form)
    before, _errors = customer_form(
        {k[len("orig_") :]: v for k, v in request.form.items() if k.startswith("orig_")}
    )
    changed = {key: value for key, value in body.items() if _differs(before.get(key), value)}
    conflict: list[tuple[str, Any, Any, bool]] = []
    if not errors and changed:
        customer, conflict, errors = _save(customer, body, before, changed)
    if not errors and not conflict:
        flash(_("Changes saved."), "ok")
        return redirect(url_for("customers.show", customer_id=customer_id))
    values = dict(request.form)
    originals = {k[len("orig_") :]: v for k, v in request.form.items() if k.startswith("orig_")}
    if conflict:
        # Start again from what is saved now, with this user's own changes on top.
        originals = _values_of(customer)
        mine = {k: v for k, v in request.form.items() if not k.startswith("orig_")}
        values = {**originals, **{k: v for k, v in mine.items() if _touched(k, changed)}}
        values["version"] = customer["version"]
    page = render(
        "customers/form.html",
        values=values,
        originals=originals,
        errors=errors,
        customer=customer,
        conflict=conflict,
    )
    page.status_code = 409 if conflict else 422
    return page


def _save(
    customer: dict[str, Any], body: dict[str, Any], before: dict[str, Any], changed: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, Any, Any, bool]], dict[str, list[str]]]:
    """Send this user's ``changed`` fields; answers the customer as saved now, the fields
    in conflict (someone else changed them meanwhile) and the API's complaints."""
    customer_id = customer["id"]
    version = request.form.get("version", "")
    if version != str(customer["version"]):
        # Changed meanwhile: fine if nobody else touched the fields this user changed.
        theirs = {k for k in changed if _differs(before.get(k), _saved(customer, k))}
        if theirs:
            return customer, _differences(customer, body, changed), {}
        version = str(customer["version"])
    try:
        api().patch(
            "customers", f"/customers/{customer_id}", changed, headers={"If-Match": version}
        )
    except ApiError as error:
        if error.status != 409:
            return customer, [], _flat_errors(form_errors(error))
        customer = api().get("customers", f"/customers/{customer_id}")
        return customer, _differences(customer, body, changed), {}
    return customer, [], {}


def _saved(customer: dict[str, Any], field: str) -> Any:
    """A saved field as a form would send it (amounts as plain decimal strings)."""
    value = customer.get(field)
    if field == "billing_address" and value:
        return {k: value.get(k) for k in ADDRESS}
    return value


def _differs(before: Any, after: Any) -> bool:
    if isinstance(before, str) and isinstance(after, str):
        try:
            return Decimal(before) != Decimal(after)
        except ArithmeticError:
            pass
    return (before or None) != (after or None)


def _touched(form_field: str, changed: dict[str, Any]) -> bool:
    """Whether a form field belongs to a changed API field (address_* to billing_address)."""
    field = "billing_address" if form_field.startswith("address_") else form_field
    return field in changed


def _differences(
    saved: dict[str, Any], mine: dict[str, Any], changed: dict[str, Any]
) -> list[tuple[str, Any, Any, bool]]:
    """Fields where what is saved now differs from what this user's form holds, and
    whether this user changed each."""
    out = []
    for key, value in mine.items():
        current = saved.get(key)
        if key == "credit_limit":
            same = (current or None) == value or (
                current is not None and value is not None and float(current) == float(value)
            )
        else:
            same = (current or None) == (value or None)
        if not same:
            out.append((key, current, value, key in changed))
    return out


@bp.route("/<uuid:customer_id>")
@login_required
def show(customer_id: Any) -> ResponseReturnValue:
    customer = api().get("customers", f"/customers/{customer_id}")
    return render("customers/show.html", customer=customer, **_customer_sections(customer))


def _customer_sections(customer: dict[str, Any]) -> dict[str, Any]:
    cid = customer["id"]

    def quietly(service: str, path: str, **query: Any) -> Any:
        def fetch() -> Any:
            try:
                return api().get(service, path, **query)
            except ApiError:
                return None

        return section(fetch)

    account = quietly("billing", f"/accounts/{cid}")
    invoices = quietly("billing", "/invoices", customer_id=cid, limit=100)
    history = quietly("billing", f"/accounts/{cid}/transactions", limit=500)
    interactions = quietly("customers", f"/customers/{cid}/interactions", limit=50)
    notifications = quietly("notifier", "/notifications", customer_id=cid, limit=20)
    contracts = quietly("contracts", "/contracts", customer_id=cid)
    open_invoices = [
        i for i in (invoices or {}).get("items", []) if i["status"] in ("open", "partially_paid")
    ]
    drafts = [i for i in (invoices or {}).get("items", []) if i["status"] == "draft"]
    entries = list(reversed((history or {}).get("items", [])))
    return {
        "account": account,
        "invoices_known": invoices is not None,
        "open_invoices": sorted(open_invoices, key=lambda i: i["due_date"]),
        "drafts": drafts,
        "history": entries[:60],
        "history_known": history is not None,
        "interactions": (interactions or {}).get("items", []),
        "interactions_known": interactions is not None,
        "notifications": (notifications or {}).get("items", []),
        "notifications_known": notifications is not None,
        "contract": _in_force((contracts or {}).get("items", [])),
        "channels": CHANNELS,
    }


def _in_force(contracts: list[dict[str, Any]]) -> dict[str, Any] | None:
    today = dt.date.today().isoformat()
    for contract in contracts:
        if contract.get("status") != "active":
            continue
        ends = contract.get("terminated_on") or contract.get("valid_to")
        if contract["valid_from"] <= today and (not ends or today <= ends):
            return contract
    return None


@bp.route("/<uuid:customer_id>/interactions", methods=["POST"])
@requires_role("clerk")
def log_interaction(customer_id: Any) -> ResponseReturnValue:
    channel = request.form.get("channel", "note")
    direction = request.form.get("direction") or ("internal" if channel == "note" else "outbound")
    body = {
        "channel": channel,
        "direction": direction,
        "subject": request.form.get("subject", "").strip() or None,
        "body": request.form.get("body", "").strip() or None,
    }
    try:
        api().post("customers", f"/customers/{customer_id}/interactions", body)
    except ApiError as error:
        customer = api().get("customers", f"/customers/{customer_id}")
        page = render(
            "customers/show.html",
            customer=customer,
            interaction_errors=form_errors(error),
            interaction_values=request.form,
            **_customer_sections(customer),
        )
        page.status_code = 422
        return page
    flash(_("Logged in the communication history."), "ok")
    return redirect(url_for("customers.show", customer_id=customer_id, _anchor="communication"))


@bp.route("/<uuid:customer_id>/archive", methods=["POST"])
@requires_role("clerk")
def archive(customer_id: Any) -> ResponseReturnValue:
    api().post("customers", f"/customers/{customer_id}/archive")
    flash(_("Customer archived. Their history stays."), "ok")
    return redirect(url_for("customers.show", customer_id=customer_id))


@bp.route("/<uuid:customer_id>/transactions.csv")
@login_required
def transactions_csv(customer_id: Any) -> ResponseReturnValue:
    answer = api().request(
        "GET",
        "billing",
        f"/accounts/{customer_id}/transactions",
        query={"format": "csv"},
        raw=True,
    )
    return Response(
        answer.data,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="transactions-{customer_id}.csv"'},
    )
