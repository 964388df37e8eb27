"""Who is signed in, CSRF tokens, cookies and the security headers of every page."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, abort, current_app, g, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from services.gateway.commands import StaffUser
from shared.web.edge import HTML_POLICY

SESSION_COOKIE = "tameio_session"
PRE_SESSION_COOKIE = "tameio_pre"  # anonymous browser: ties the sign-in form's CSRF token
LANGUAGE_COOKIE = "tameio_lang"
F = TypeVar("F", bound=Callable[..., Any])


def secure_cookies() -> bool:
    """Cookies carry Secure when the UI is served over TLS: the request came in as https,
    or TAMEIO_PUBLIC_URL says https (TLS ends at an ingress in front)."""
    return request.is_secure or bool(current_app.extensions["tameio_ui"]["settings"].tls)


def set_cookie(response: BaseResponse, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(),
        path="/",
    )


def csrf_token() -> str:
    """The form token of this browser: an HMAC of its session (or pre-session) cookie, so a
    page on another site can neither read nor compute it."""
    anchor = g.get("session_token") or g.get("pre_session")
    if not anchor:
        anchor = g.pre_session = secrets.token_urlsafe(24)
        g.set_pre_session = True
    key: bytes = current_app.config["CSRF_KEY"]
    return hmac.new(key, f"csrf:{anchor}".encode(), hashlib.sha256).hexdigest()


def check_csrf() -> None:
    """Every state-changing request must carry this browser's form token."""
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    sent = request.form.get("csrf_token", "") or request.headers.get("X-CSRF-Token", "")
    anchor = g.get("session_token") or g.get("pre_session")
    if not anchor or not sent or not hmac.compare_digest(sent, csrf_token()):
        abort(400, description=_("This form has expired. Reload the page and try again."))


def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", HTML_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    if secure_cookies():
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if g.get("set_pre_session"):
        set_cookie(response, PRE_SESSION_COOKIE, g.pre_session)
    return response


def current_user() -> StaffUser | None:
    user: StaffUser | None = g.get("user")
    return user


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def requires_role(role: str) -> Callable[[F], F]:
    """Signed in with at least ``role``; otherwise a readable 403 page."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None or not user.can(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def install(app: Flask) -> None:
    app.after_request(security_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
