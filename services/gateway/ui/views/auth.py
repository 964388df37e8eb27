"""Signing in and out, and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from services.gateway import commands
from services.gateway.ui import security
from services.gateway.ui.pages import LANGUAGES, client_address, render, ui_db
from shared.clock import utcnow

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no open redirect to another host)."""
    if not target:
        return url_for("home.dashboard")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home.dashboard")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        if security.current_user() is not None:
            return redirect(_safe_next(request.args.get("next")))
        return render("login.html", email="", next=request.args.get("next", ""))
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    with ui_db().unit_of_work() as uow:
        outcome = commands.sign_in(uow.session, email, password, client_address(), utcnow())
        uow.commit()
    if outcome.throttle is not None:
        error = _(
            "Too many failed sign-ins. Wait %(seconds)s seconds and try again.",
            seconds=outcome.throttle.retry_after,
        )
        page = render("login.html", email=email, error=error, next=request.form.get("next"))
        page.status_code = 429
        page.headers["Retry-After"] = str(outcome.throttle.retry_after)
        return page
    if outcome.token is None:
        page = render(
            "login.html",
            email=email,
            error=_("The email or password is not right."),
            next=request.form.get("next"),
        )
        page.status_code = 401
        return page
    response = redirect(_safe_next(request.form.get("next")))
    security.set_cookie(response, security.SESSION_COOKIE, outcome.token)
    return response


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    token = g.get("session_token")
    if token:
        with ui_db().unit_of_work() as uow:
            commands.sign_out(uow.session, token)
            uow.commit()
    response = redirect(url_for("auth.login"))
    response.delete_cookie(security.SESSION_COOKIE, path="/")
    return response


@bp.route("/language", methods=["POST"])
def language() -> ResponseReturnValue:
    """Remember the chosen language: on the user when signed in, else in a cookie."""
    chosen = request.form.get("language")
    chosen = chosen if chosen in LANGUAGES else None
    user = security.current_user()
    if user is not None:
        with ui_db().unit_of_work() as uow:
            commands.set_language(uow.session, user.id, chosen)
            uow.commit()
    response = redirect(_safe_next(request.form.get("next")))
    if chosen:
        security.set_cookie(response, security.LANGUAGE_COOKIE, chosen, max_age=365 * 86400)
    return response
