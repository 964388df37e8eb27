"""The staff UI app: locale, sign-in check, error pages and the blueprints of every area."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from flask import Flask, g, render_template, request
from flask_babel import Babel, get_locale
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from services.gateway import commands
from services.gateway.routing import WSGIApp
from services.gateway.ui import formatting, security
from services.gateway.ui.client import ApiError, ServiceDown
from services.gateway.ui.pages import LANGUAGES
from services.gateway.ui.views import admin, auth, customers, home, invoices, payments, reports
from services.gateway.ui.views.common import name_helpers
from shared.clock import utcnow
from shared.config import Settings
from shared.db import Database
from shared.web.auth import Identity

HERE = Path(__file__).parent
log = logging.getLogger(__name__)


def select_locale() -> str:
    """The user's choice, else the browser's Accept-Language, else English."""
    user = security.current_user()
    if user is not None and user.language in LANGUAGES:
        return user.language
    chosen = request.cookies.get(security.LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


def create_ui(
    settings: Settings,
    db: Database,
    routes_for: Callable[[Identity], WSGIApp],
    forget_token: Callable[[str], None] | None = None,
) -> Flask:
    """The UI app; ``routes_for(identity)`` reaches ``/api/<service>/...`` as that caller;
    ``forget_token(sha256)`` drops a token the admin page revoked from the token cache."""
    app = Flask(
        "tameio.gateway.ui",
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
        static_url_path="/static",
    )
    secret = settings.internal_secret.encode()
    app.config.update(
        SECRET_KEY=hmac.new(secret, b"ui-secret-key", hashlib.sha256).hexdigest(),
        CSRF_KEY=hmac.new(secret, b"ui-csrf", hashlib.sha256).digest(),
        MAX_CONTENT_LENGTH=1024 * 1024,
        BABEL_TRANSLATION_DIRECTORIES=str(HERE / "translations"),
        SEND_FILE_MAX_AGE_DEFAULT=3600,
        # Flask's own cookie carries only one-page messages (flash).
        SESSION_COOKIE_NAME="tameio_flash",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.tls,
    )
    app.extensions["tameio_ui"] = {
        "db": db,
        "settings": settings,
        "routes_for": routes_for,
        "forget_token": forget_token or (lambda _hashed: None),
    }
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale
    security.install(app)
    formatting.install(app)

    app.before_request(partial(_who, db))

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            **name_helpers(),
            "user": security.current_user(),
            "languages": LANGUAGES,
            "today": dt.date.today(),
            "new_key": lambda: str(uuid.uuid4()),
            "down": g.get("down", set()),
        }

    _install_error_pages(app)
    for views in (auth, home, customers, invoices, payments, reports, admin):
        app.register_blueprint(views.bp)
    return app


def _who(db: Database) -> None:
    """The signed-in user (if any) of this request, then its CSRF check."""
    g.pre_session = request.cookies.get(security.PRE_SESSION_COOKIE)
    token = request.cookies.get(security.SESSION_COOKIE)
    g.user = None
    if token:
        with db.unit_of_work() as uow:
            g.user = commands.session_user(uow.session, token, utcnow())
            uow.commit()
        if g.user is not None:
            g.session_token = token
    security.check_csrf()


def _install_error_pages(app: Flask) -> None:
    """Errors as pages in the user's language: HTTP errors, a service down, an API refusal,
    anything unexpected."""

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        messages = {
            400: error.description if code == 400 else "",
            403: _("Your role does not allow this. Ask an administrator if you need it."),
            404: _("There is no such page."),
            405: _("That action is not available here."),
            413: _("What you sent is too large."),
        }
        return render_template(
            "error.html", code=code, message=messages.get(code) or error.name
        ), code

    @app.errorhandler(ServiceDown)
    def _service_down(error: ServiceDown) -> tuple[str, int]:
        g.down = {error.service}
        return render_template("error.html", code=503, message=""), 503

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> tuple[str, int]:
        code = error.status if error.status in (403, 404, 409) else 400
        if error.status == 403:
            message = _("Your role does not allow this. Ask an administrator if you need it.")
        else:
            message = error.detail
        return render_template("error.html", code=code, message=message), code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[str, int]:
        log.exception("UI page failed")
        message = _("Something went wrong on our side. Try again; if it keeps happening, tell us.")
        return render_template("error.html", code=500, message=message), 500
