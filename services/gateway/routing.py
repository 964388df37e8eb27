"""``/api/<service>/...``: check the bearer token, sign the identity, reach the service.

In embedded mode each service's WSGI app is called in-process; in real mode the request is
proxied over HTTP with timeouts, and a service that is down answers 503 problem+json.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import urllib3
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from urllib3.exceptions import HTTPError, ProtocolError, ReadTimeoutError

from services.gateway.throttle import LoginThrottle, client_address
from shared.web.app import PUBLIC_PATHS, is_transient
from shared.web.auth import Identity, sign_identity
from shared.web.edge import declared_length
from shared.web.inputs import MAX_BODY_BYTES
from shared.web.problems import problem_response
from shared.web.requestlog import answered_at_the_edge

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


@functools.lru_cache(maxsize=512)
def forwarded_name(environ_key: str) -> str | None:
    """The header an ``HTTP_*`` WSGI key names, as forwarded (``HTTP_X_REQUEST_ID`` ->
    ``X-Request-Id``); None for a hop-by-hop header. Remembered: the same few names come
    with every request."""
    name = environ_key[5:].replace("_", "-")
    return None if name.lower() in HOP_BY_HOP else name.title()


class HttpBackend:
    """Forwards a WSGI request to a service's own HTTP port."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        # One service, one host: its own connection pool, with no URL to parse and no pool
        # to look up per request.
        self.pool = urllib3.connection_from_url(self.base_url, maxsize=32, retries=False)
        self.prefix = urllib3.util.parse_url(self.base_url).path or ""

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/:@!$&'()*+,;=-._~%")
        query = environ.get("QUERY_STRING")
        url = f"{self.prefix}{path}" + (f"?{query}" if query else "")
        headers = {
            name: value
            for key, value in environ.items()
            if key.startswith("HTTP_") and (name := forwarded_name(key)) is not None
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        body = read_body(environ)
        if body is TOO_LARGE:
            return problem_response(413, f"The request body is over {MAX_BODY_BYTES:,} bytes.")(
                environ, start_response
            )
        try:
            response = self.pool.urlopen(
                environ["REQUEST_METHOD"],
                url,
                body=body,
                headers=headers,
                timeout=self.timeout,
                redirect=False,
                preload_content=False,
                release_conn=False,
            )
        except ReadTimeoutError:
            return problem_response(504, f"The {self.service} service did not answer in time.")(
                environ, start_response
            )
        except (HTTPError, ProtocolError, OSError) as exc:
            log.warning("%s unreachable at %s: %s", self.service, self.base_url, exc)
            return problem_response(
                503, f"The {self.service} service is unavailable; try again shortly."
            )(environ, start_response)
        out_headers = [
            (name, value)
            for name, value in response.headers.items()
            if name.lower() not in HOP_BY_HOP
        ]
        start_response(f"{response.status} {response.reason or ''}".strip(), out_headers)
        return _stream(response)


TOO_LARGE = b"<too large>"


def read_body(environ: dict[str, Any]) -> bytes | None:
    """The request body to forward: what Content-Length declares (the Edge refused more), or
    a chunked body read up to MAX_BODY_BYTES; TOO_LARGE when a chunked body goes past that."""
    stream = environ["wsgi.input"]
    length = declared_length(environ)
    if length is not None:
        return stream.read(length) if length else None
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() != "chunked":
        return None
    parts, size = [], 0
    while size <= MAX_BODY_BYTES:
        part = stream.read(min(64 * 1024, MAX_BODY_BYTES + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return TOO_LARGE if size > MAX_BODY_BYTES else b"".join(parts) or None


def _stream(response: Any) -> Iterable[bytes]:
    try:
        yield from response.stream(64 * 1024, decode_content=False)
    finally:
        response.release_conn()


class ApiRouter:
    """WSGI middleware in front of the gateway app that owns ``/api/<service>/``."""

    def __init__(
        self,
        gateway_app: WSGIApp,
        backends: Mapping[str, WSGIApp],
        authenticate: Callable[[str], Identity | None],
        secret: str,
        *,
        throttle: LoginThrottle | None = None,
        trusted_proxies: int = 0,
    ) -> None:
        self.gateway_app = gateway_app
        self.backends = dict(backends)
        self.authenticate = authenticate
        self.secret = secret
        self.throttle = throttle
        self.trusted_proxies = trusted_proxies

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if not path.startswith("/api/"):
            return self.gateway_app(environ, start_response)
        service, _, rest = path[len("/api/") :].partition("/")
        backend = self.backends.get(service)
        if backend is None:
            unknown = problem_response(404, f"No service called {service!r}.")
            return answered_at_the_edge(environ, start_response, unknown)
        tail = "/" + rest
        identity = None
        if tail not in PUBLIC_PATHS:
            identity, refusal = self._credentials_or_503(environ)
            if refusal is not None:  # answered here, so logged here (the service never sees it)
                return answered_at_the_edge(environ, start_response, refusal)
        return self._forward(environ, start_response, service, tail, identity)

    def as_identity(self, identity: Identity) -> WSGIApp:
        """The same routes for a caller the gateway has already authenticated (a signed-in
        UI user): the UI reaches the services exactly as an API client would."""

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path: str = environ.get("PATH_INFO", "")
            service, _, rest = path[len("/api/") :].partition("/")
            backend = self.backends.get(service)
            if not path.startswith("/api/") or backend is None:
                return problem_response(404, f"No service called {service!r}.")(
                    environ, start_response
                )
            return self._forward(environ, start_response, service, "/" + rest, identity)

        return app

    def _forward(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        service: str,
        tail: str,
        identity: Identity | None,
    ) -> Iterable[bytes]:
        """Pass the request on to ``service`` (a known one) as ``tail``, signed for
        ``identity``."""
        environ = dict(environ)
        environ.pop("HTTP_X_TAMEIO_IDENTITY", None)  # never trust one from outside
        environ.setdefault("HTTP_X_REQUEST_ID", str(uuid.uuid4()))
        if identity is not None:
            environ["HTTP_X_TAMEIO_IDENTITY"] = sign_identity(self.secret, identity)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + f"/api/{service}"
        environ["PATH_INFO"] = tail
        return self.backends[service](environ, start_response)

    def _credentials_or_503(self, environ: dict[str, Any]) -> tuple[Any, Any]:
        """:meth:`_check_credentials`, once more on a fresh connection if the pooled one was
        found dead (the database restarted since), and a 503 problem if the gateway's
        database cannot be reached."""
        for attempt in (1, 2):
            try:
                return self._check_credentials(environ)
            except DBAPIError as error:
                if attempt == 1 and is_transient(error):  # as a view would be tried again
                    continue
                if not isinstance(error, (OperationalError, InterfaceError)):
                    raise
                log.warning("gateway database unavailable: %s", error.orig or error)
        unavailable = problem_response(
            503, "The gateway's database is unavailable; try again shortly."
        )
        unavailable.headers["Retry-After"] = "2"
        return None, unavailable

    def _check_credentials(self, environ: dict[str, Any]) -> tuple[Any, Any]:
        """(identity, None) for a valid token; (None, problem response) otherwise: 429 while
        the client is throttled (credentials unchecked), else 401 (counted if presented)."""
        header = environ.get("HTTP_AUTHORIZATION", "")
        client = client_address(environ, self.trusted_proxies)
        if header and self.throttle is not None:
            wait = self.throttle.wait_seconds(client)
            if wait is not None:
                return None, problem_response(
                    429,
                    f"Too many invalid credentials from this client; try again in {wait} s.",
                    headers={"Retry-After": str(wait)},
                )
        identity = self._identify(header)
        if identity is not None:
            return identity, None
        if header and self.throttle is not None:
            self.throttle.failed(client)
        return None, problem_response(
            401, "A valid bearer token is required.", headers={"WWW-Authenticate": "Bearer"}
        )

    def _identify(self, header: str) -> Identity | None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.authenticate(token.strip())
