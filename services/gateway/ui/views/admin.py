"""Administration (admin role only): staff users, API tokens, catalog and tax rates,
contracts, the reminder policy and dead letters."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from services.gateway import commands, domain
from services.gateway.ui import security
from services.gateway.ui.client import ApiError
from services.gateway.ui.formatting import parse_amount
from services.gateway.ui.pages import api, render, ui_db
from services.gateway.ui.security import requires_role
from services.gateway.ui.views.common import form_errors, section
from services.gateway.ui.views.home import customer_names
from shared.clock import utcnow
from shared.web.auth import ROLES

bp = Blueprint("admin", __name__, url_prefix="/admin")

CONSUMERS = ("customers", "contracts", "billing", "payments", "notifier", "reporting")
TAX_CODES = ("standard", "reduced", "super_reduced", "zero")
TREATMENTS = ("standard", "exempt", "reverse_charge", "custom_rate")
REMINDER_TEMPLATES = ("upcoming", "first", "second", "third", "final")


@bp.route("/")
@requires_role("admin")
def index() -> ResponseReturnValue:
    return render("admin/index.html")


# -- staff users ----------------------------------------------------------------------------


@bp.route("/users", methods=["GET", "POST"])
@requires_role("admin")
def users() -> ResponseReturnValue:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {"role": "clerk"}
    if request.method == "POST":
        values = dict(request.form)
        try:
            with ui_db().unit_of_work() as uow:
                domain.create_user(
                    uow.session,
                    request.form.get("email", ""),
                    request.form.get("role", ""),
                    request.form.get("password", ""),
                )
                uow.commit()
        except ValueError as exc:
            errors["_"] = [str(exc)]
        else:
            flash(_("User %(email)s created.", email=request.form.get("email")), "ok")
            return redirect(url_for("admin.users"))
    with ui_db().unit_of_work() as uow:
        rows = [
            {"id": u.id, "email": u.email, "role": u.role, "disabled": u.disabled_at is not None}
            for u in commands.list_users(uow.session)
        ]
    page = render("admin/users.html", users=rows, roles=ROLES, values=values, errors=errors)
    if errors:
        page.status_code = 422
    return page


@bp.route("/users/<uuid:user_id>", methods=["POST"])
@requires_role("admin")
def change_user(user_id: uuid.UUID) -> ResponseReturnValue:
    me = security.current_user()
    role = request.form.get("role") or None
    disabled = {"disable": True, "enable": False}.get(request.form.get("action", ""))
    if me is not None and me.id == user_id and (disabled or (role and role != "admin")):
        flash(_("You cannot demote or disable yourself; ask another administrator."), "error")
        return redirect(url_for("admin.users"))
    try:
        with ui_db().unit_of_work() as uow:
            commands.change_user(uow.session, user_id, role=role, disabled=disabled, now=utcnow())
            uow.commit()
    except LookupError:
        abort(404)
    except ValueError as exc:
        flash(str(exc), "error")
    else:
        flash(_("User updated."), "ok")
    return redirect(url_for("admin.users"))


# -- API tokens -----------------------------------------------------------------------------


@bp.route("/tokens", methods=["GET", "POST"])
@requires_role("admin")
def tokens() -> ResponseReturnValue:
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            with ui_db().unit_of_work() as uow:
                made = domain.create_token(
                    uow.session, request.form.get("name", ""), request.form.get("role", "")
                )
                uow.commit()
        except ValueError as exc:
            errors["_"] = [str(exc)]
        else:
            # Shown on the next page only (reloading it makes no second token).
            flash(made, "token")
            return redirect(url_for("admin.tokens"))
    with ui_db().unit_of_work() as uow:
        rows = [
            {
                "id": t.id,
                "name": t.name,
                "role": t.role,
                "created_at": t.created_at,
                "revoked_at": t.revoked_at,
            }
            for t in commands.list_tokens(uow.session)
        ]
    page = render("admin/tokens.html", tokens=rows, roles=ROLES, errors=errors)
    if errors:
        page.status_code = 422
    return page


@bp.route("/tokens/<uuid:token_id>/revoke", methods=["POST"])
@requires_role("admin")
def revoke_token(token_id: uuid.UUID) -> ResponseReturnValue:
    try:
        with ui_db().unit_of_work() as uow:
            commands.revoke_token(uow.session, token_id, utcnow())
            uow.commit()
    except LookupError:
        abort(404)
    flash(_("Token revoked; it stops working within seconds."), "ok")
    return redirect(url_for("admin.tokens"))


# -- catalog and tax rates ------------------------------------------------------------------


@bp.route("/catalog", methods=["GET", "POST"])
@requires_role("admin")
def catalog() -> ResponseReturnValue:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {"currency": "EUR", "tax_code": "standard"}
    if request.method == "POST":
        values = dict(request.form)
        try:
            price = str(parse_amount(request.form.get("unit_price", "")))
        except ValueError:
            errors["unit_price"] = [_("Write the price as 1,234.56 (or 1.234,56 in Greek).")]
        if not errors:
            body = {
                "sku": request.form.get("sku", "").strip(),
                "name": request.form.get("name", "").strip(),
                "unit_price": price,
                "currency": request.form.get("currency", "EUR").strip().upper(),
                "tax_code": request.form.get("tax_code", "standard"),
            }
            try:
                api().post("contracts", "/items", body)
            except ApiError as error:
                errors = form_errors(error)
            else:
                flash(_("Item %(sku)s added.", sku=body["sku"]), "ok")
                return redirect(url_for("admin.catalog"))
    items = section(lambda: api().get("contracts", "/items", limit=500)["items"])
    rates = section(lambda: api().get("contracts", "/tax-rates"))
    page = render(
        "admin/catalog.html",
        items=items,
        rates=rates,
        values=values,
        errors=errors,
        tax_codes=TAX_CODES,
    )
    if errors:
        page.status_code = 422
    return page


@bp.route("/tax-rates", methods=["POST"])
@requires_role("admin")
def tax_rates() -> ResponseReturnValue:
    table = {code: request.form.get(code, "").strip() for code in TAX_CODES}
    try:
        body = {code: str(parse_amount(value)) for code, value in table.items()}
        api().put("contracts", "/tax-rates", body)
    except ValueError:
        flash(_("Every rate is a number, e.g. 24 or 13,5."), "error")
    except ApiError as error:
        flash(error.detail, "error")
    else:
        flash(_("Tax rates saved."), "ok")
    return redirect(url_for("admin.catalog"))


# -- contracts ------------------------------------------------------------------------------


@bp.route("/contracts", methods=["GET", "POST"])
@requires_role("admin")
def contracts() -> ResponseReturnValue:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {"tax_type": "standard"}
    if request.method == "POST":
        values = dict(request.form)
        body, errors = _contract_body(request.form)
        if not errors:
            try:
                made = api().post("contracts", "/contracts", body)
                if request.form.get("activate") == "on":
                    api().post("contracts", f"/contracts/{made['id']}/activate")
            except ApiError as error:
                errors = form_errors(error)
            else:
                flash(_("Contract %(name)s saved.", name=made["name"]), "ok")
                return redirect(url_for("admin.contracts"))
    listed = section(lambda: api().get("contracts", "/contracts", limit=100)["items"]) or []
    names = customer_names([c["customer_id"] for c in listed])
    items = section(lambda: api().get("contracts", "/items", limit=500)["items"]) or []
    page = render(
        "admin/contracts.html",
        contracts=listed,
        names=names,
        items=items,
        values=values,
        errors=errors,
        treatments=TREATMENTS,
    )
    if errors:
        page.status_code = 422
    return page


def _contract_body(form: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    number = form.get("customer_number", "").strip().upper()
    customer = None
    if number:
        found = api().get("customers", "/customers", number=number)["items"]
        customer = found[0] if found else None
    if customer is None:
        errors["customer_number"] = [_("No customer has this number.")]
    treatment: dict[str, Any] = {"type": form.get("tax_type", "standard")}
    if form.get("tax_note", "").strip():
        treatment["note"] = form.get("tax_note").strip()
    if treatment["type"] == "custom_rate":
        treatment["rate"] = form.get("tax_rate", "").strip() or None
    body: dict[str, Any] = {
        "customer_id": customer["id"] if customer else None,
        "name": form.get("name", "").strip(),
        "valid_from": form.get("valid_from") or None,
        "valid_to": form.get("valid_to") or None,
        "discount_percent": "0",
        "tax_treatment": treatment,
        "prices": [],
    }
    try:
        if form.get("discount_percent", "").strip():
            body["discount_percent"] = str(parse_amount(form.get("discount_percent")))
        for n in range(3):
            sku = form.get(f"price_sku_{n}", "").strip()
            if sku:
                price = str(parse_amount(form.get(f"price_{n}", "")))
                body["prices"].append({"sku": sku, "unit_price": price})
    except ValueError:
        errors["_"] = [_("Discount and prices are numbers, e.g. 10 or 1.234,50 in Greek.")]
    return body, errors


@bp.route("/contracts/<uuid:contract_id>/<any(activate, terminate):action>", methods=["POST"])
@requires_role("admin")
def contract_action(contract_id: uuid.UUID, action: str) -> ResponseReturnValue:
    body = {"effective": request.form.get("effective")} if action == "terminate" else None
    try:
        api().post("contracts", f"/contracts/{contract_id}/{action}", body)
    except ApiError as error:
        flash(error.detail, "error")
    else:
        flash(_("Contract updated."), "ok")
    return redirect(url_for("admin.contracts"))


# -- reminder policy ------------------------------------------------------------------------


@bp.route("/policy", methods=["GET", "POST"])
@requires_role("admin")
def policy() -> ResponseReturnValue:
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        levels: list[dict[str, Any]] = []
        for n in range(1, 11):
            days = request.form.get(f"days_{n}", "").strip()
            if days:
                template = request.form.get(f"template_{n}", "first")
                levels.append(
                    {"level": len(levels) + 1, "days_after_due": days, "template": template}
                )
        try:
            api().put("notifier", "/policy", {"levels": levels})
        except ApiError as error:
            errors = form_errors(error)
        else:
            flash(_("Reminder policy saved."), "ok")
            return redirect(url_for("admin.policy"))
    current = api().get("notifier", "/policy")
    page = render("admin/policy.html", policy=current, errors=errors, templates=REMINDER_TEMPLATES)
    if errors:
        page.status_code = 422
    return page


# -- dead letters ---------------------------------------------------------------------------


@bp.route("/dead-letters")
@requires_role("admin")
def dead_letters() -> ResponseReturnValue:
    letters: dict[str, Any] = {}
    for service in CONSUMERS:
        letters[service] = section(partial(_dead_letters_of, service))
    return render("admin/dead_letters.html", letters=letters)


def _dead_letters_of(service: str) -> list[dict[str, Any]]:
    return list(api().get(service, "/admin/dead-letters", limit=50)["items"])


CONSUMER = "<any(customers, contracts, billing, payments, notifier, reporting):service>"


@bp.route(f"/dead-letters/{CONSUMER}/<int:letter_id>/replay", methods=["POST"])
@requires_role("admin")
def replay(service: str, letter_id: int) -> ResponseReturnValue:
    try:
        api().post(service, f"/admin/dead-letters/{letter_id}/replay")
    except ApiError as error:
        flash(error.detail, "error")
    else:
        flash(_("Handed back to the %(service)s worker.", service=service), "ok")
    return redirect(url_for("admin.dead_letters"))
