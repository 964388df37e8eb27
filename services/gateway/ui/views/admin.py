"""Administration (admin role only): staff users, API tokens, the company profile, catalog
and tax rates, contracts, the reminder policy and dead letters."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from services.gateway import commands, queries
from services.gateway.ui import security
from services.gateway.ui.client import ApiError
from services.gateway.ui.formatting import parse_amount
from services.gateway.ui.pages import api, render, render_form, ui_db
from services.gateway.ui.security import requires_role
from services.gateway.ui.views.common import form_errors, section
from services.gateway.ui.views.home import customer_names
from shared.clock import utcnow
from shared.roles import ROLES

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
                commands.create_user(
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
            for u in queries.list_users(uow.session)
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
                made = commands.create_token(
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
            for t in queries.list_tokens(uow.session)
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
            hashed = commands.revoke_token(uow.session, token_id, utcnow())
            uow.commit()
    except LookupError:
        abort(404)
    # At once here; the gateway's other processes stop accepting it within seconds.
    current_app.extensions["tameio_ui"]["forget_token"](hashed)
    flash(_("Token revoked; it stops working within seconds."), "ok")
    return redirect(url_for("admin.tokens"))


# -- the company profile -------------------------------------------------------------------

COMPANY_ADDRESS = ("line1", "line2", "postal_code", "city", "region", "country")
COMPANY_FIELDS = {
    "name": _l("Company name"),
    "tax_id": _l("Tax id"),
    "email": _l("Email"),
    "reply_to": _l("Replies go to"),
    "phone": _l("Phone"),
    "address_line1": _l("Street and number"),
    "address_line2": _l("Address line 2"),
    "address_postal_code": _l("Postal code"),
    "address_city": _l("City"),
    "address_region": _l("Region"),
    "address_country": _l("Country (2 letters)"),
    "iban": _l("IBAN"),
    "bic": _l("BIC"),
    "payment_instructions": _l("Payment instructions"),
    "language": _l("Language of new customers"),
}


def _company_values(profile: dict[str, Any]) -> dict[str, str]:
    """The profile as the form's fields (strings; empty for none)."""
    address = profile.get("address") or {}
    values = {
        key: str(profile.get(key) or "") for key in COMPANY_FIELDS if not key.startswith("address_")
    }
    for key in COMPANY_ADDRESS:
        values[f"address_{key}"] = str(address.get(key) or "")
    values["language"] = str(profile.get("language") or "en")
    return values


def _company_form(form: Any) -> dict[str, str]:
    values = {key: (form.get(key) or "").strip() for key in COMPANY_FIELDS}
    for key in ("address_country", "iban", "bic"):
        values[key] = values[key].upper()
    values["language"] = values["language"] if values["language"] in ("en", "el") else "en"
    return values


def _company_body(values: dict[str, str]) -> dict[str, Any]:
    """What ``PUT /company`` takes: the whole profile, ``None`` for what is left empty."""
    body: dict[str, Any] = {
        key: values[key] or None for key in COMPANY_FIELDS if not key.startswith("address_")
    }
    address = {key: values[f"address_{key}"] or None for key in COMPANY_ADDRESS}
    body["address"] = address if any(address.values()) else None
    return body


def _company_errors(error: ApiError) -> dict[str, list[str]]:
    """The API's ``address.country`` is the form's ``address_country``."""
    out: dict[str, list[str]] = {}
    for key, messages in form_errors(error).items():
        field = key.replace(".", "_") if key.startswith("address.") else key
        if field != "_" and field not in COMPANY_FIELDS:
            field = "_"
        out.setdefault(field, []).extend(messages)
    return out


@bp.route("/company", methods=["GET", "POST"])
@requires_role("admin")
def company() -> ResponseReturnValue:
    """The seller on every document and email. ``PUT /company`` replaces the whole profile,
    so before saving the page checks that nobody saved it since the form was shown: if
    someone did, their changes are kept unless this user changed the same field, and when
    both did, the page shows both and asks again (decision in docs/decisions.md). The save
    carries ``If-Match``, so one made in the last moment is refused, not overwritten."""
    saved = api().get("billing", "/company")
    current = _company_values(saved)
    if request.method == "GET":
        return render_form(
            "admin/company.html",
            fields=COMPANY_FIELDS,
            profile=saved,
            values=current,
            originals=current,
            version=saved["version"],
            errors={},
        )
    typed = _company_form(request.form)
    before = _company_form({k: request.form.get(f"orig_{k}") for k in COMPANY_FIELDS})
    changed = {key for key in COMPANY_FIELDS if typed[key] != before[key]}
    version = request.form.get("version", "")
    errors: dict[str, list[str]] = {}
    conflict: list[tuple[str, str, str, bool]] = []
    if version != str(saved["version"]):
        # Saved by someone else meanwhile: theirs stays, this user's changes go on top.
        typed = {**current, **{key: typed[key] for key in changed}}
        conflict = _company_conflict(current, typed, before, changed)
        before, version = current, str(saved["version"])
    if not conflict:
        try:
            body = _company_body(typed)
            api().put("billing", "/company", body, headers={"If-Match": str(saved["version"])})
        except ApiError as error:
            if error.status == 409:  # saved by someone else in the last moment: show theirs
                flash(_("Someone saved the profile just now: check it and save again."), "error")
                return redirect(url_for("admin.company"))
            errors = _company_errors(error)
        else:
            flash(_("Company profile saved. New documents and emails show it."), "ok")
            return redirect(url_for("admin.company"))
    page = render_form(
        "admin/company.html",
        fields=COMPANY_FIELDS,
        profile=saved,
        values=typed,
        originals=before,
        version=version,
        errors=errors,
        conflict=conflict,
    )
    if conflict:
        page.status_code = 409
    return page


def _company_conflict(
    saved: dict[str, str], typed: dict[str, str], before: dict[str, str], changed: set[str]
) -> list[tuple[str, str, str, bool]]:
    """When someone else changed a field this user changed too: every field they changed,
    with what is saved now, what this user's form holds and whether this user changed it.
    Empty when their changes and this user's do not meet."""
    theirs = [key for key in COMPANY_FIELDS if saved[key] != before[key]]
    if not any(key in changed and saved[key] != typed[key] for key in theirs):
        return []
    return [(key, saved[key], typed[key], key in changed) for key in theirs]


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
