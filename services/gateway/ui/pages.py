"""What every page handler reaches: the public API as the signed-in user, the UI's
database, the browser's address, and rendering."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, render_template, request

from services.gateway import throttle
from services.gateway.ui import security
from services.gateway.ui.client import PublicApi
from shared.db import Database
from shared.web.auth import Identity

LANGUAGES = ("en", "el")


def api() -> PublicApi:
    """The public API as the signed-in user."""
    user = security.current_user()
    if user is None:
        raise RuntimeError("no user signed in")
    if "api" not in g:
        routes_for = current_app.extensions["tameio_ui"]["routes_for"]
        g.api = PublicApi(routes_for, Identity(subject=f"user:{user.email}", role=user.role))
    client: PublicApi = g.api
    return client


def ui_db() -> Database:
    db: Database = current_app.extensions["tameio_ui"]["db"]
    return db


def client_address() -> str:
    """The browser's address, for throttling, as the API's token check sees a client: the
    Nth X-Forwarded-For hop from the right with TAMEIO_TRUSTED_PROXIES=N, else the peer."""
    settings = current_app.extensions["tameio_ui"]["settings"]
    return throttle.client_address(request.environ, settings.trusted_proxies)


def render(template: str, **context: Any) -> Response:
    return Response(render_template(template, **context), mimetype="text/html")


def render_form(template: str, **context: Any) -> Response:
    """A form page: 422 when it comes back with ``errors`` to show next to the fields."""
    page = render(template, **context)
    if context.get("errors"):
        page.status_code = 422
    return page
