"""WSGI middleware at the outer edge of every app: body size before anything else reads it,
and the security headers on every response, whoever made it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from shared.web.inputs import MAX_BODY_BYTES
from shared.web.problems import problem_response

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# Every HTML page (the staff UI's included): scripts and styles from our own files only.
HTML_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
_OURS = {
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "content-security-policy",
    "strict-transport-security",
}


def security_headers(content_type: str, *, tls: bool) -> list[tuple[str, str]]:
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    ]
    if content_type.startswith("text/html"):
        headers.append(("Content-Security-Policy", HTML_POLICY))
    if tls:
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


def declared_length(environ: dict[str, Any]) -> int | None:
    raw = environ.get("CONTENT_LENGTH") or ""
    return int(raw) if raw.isdigit() else None


class Edge:
    """413 for a declared body over MAX_BODY_BYTES before the app (and its authentication)
    sees the request; security headers on every response. Chunked bodies are cut at the
    same size where they are read (werkzeug's MAX_CONTENT_LENGTH, the gateway's proxy)."""

    def __init__(self, app: WSGIApp, *, tls: bool) -> None:
        self.app = app
        self.tls = tls

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
            kept = [(k, v) for k, v in headers if k.lower() not in _OURS]
            extra = security_headers(content_type, tls=self.tls)
            return start_response(status, kept + extra, exc_info)

        length = declared_length(environ)
        if length is not None and length > MAX_BODY_BYTES:
            too_large = problem_response(413, f"The request body is over {MAX_BODY_BYTES:,} bytes.")
            return too_large(environ, start)
        return self.app(environ, start)
