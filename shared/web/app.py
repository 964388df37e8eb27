"""The base app factory every service (and the gateway) is built with."""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Request, Response, g, jsonify, request
from flask_smorest import Api, Blueprint
from marshmallow import fields
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from shared.config import Settings
from shared.context import Trace, current_trace, reset_trace, set_trace
from shared.db import Database
from shared.web.auth import IDENTITY_HEADER, Identity, verify_identity
from shared.web.context import ServiceContext
from shared.web.edge import Edge
from shared.web.inputs import (
    MAX_BODY_BYTES,
    check_body_size,
    check_query_parameters,
    read_json_body,
)
from shared.web.metrics import install_metrics
from shared.web.openapi import finish
from shared.web.problems import Problem, from_http_exception, problem_response
from shared.web.requestlog import log_request

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
Authenticate = Callable[[Request], Identity | None]


TRANSIENT_SQLSTATES = frozenset({"40P01", "40001", "55P03"})  # deadlock, serialization, lock
ATTEMPTS = 3


def is_conflict(error: BaseException) -> bool:
    """A database conflict that a second try of the same transaction can get past."""
    if not isinstance(error, DBAPIError):
        return False
    if getattr(error.orig, "sqlstate", None) in TRANSIENT_SQLSTATES:
        return True
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


def is_transient(error: BaseException) -> bool:
    """A conflict, or a connection found dead (the server restarted since it was last
    used): the pool has then been emptied, so a second try runs on a fresh connection."""
    invalidated = isinstance(error, DBAPIError) and error.connection_invalidated
    return invalidated or is_conflict(error)


class TameioFlask(Flask):
    """Flask that runs a view again when the database reports a transient conflict.

    Every view does its writes in units of work that roll back on the way out, so running
    it again is the same request on a fresh transaction (Idempotency-Key checks included);
    after ATTEMPTS the error reaches the 503 handler."""

    def dispatch_request(self) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return super().dispatch_request()
            except DBAPIError as error:
                if attempt == ATTEMPTS or not is_transient(error):
                    raise
                log.info("transient database conflict, try %d: %s", attempt, error.orig)
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")


class ProblemApi(Api):
    """flask-smorest's Api answering every HTTP error as problem+json, with decimals
    documented as the strings they are and the finished document served."""

    def init_app(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        super().init_app(app, *args, **kwargs)
        self.register_field(fields.Decimal, "string", "decimal")

    def handle_http_exception(self, error: HTTPException) -> Response:
        return from_http_exception(error)

    def _openapi_json(self) -> Response:
        return Response(
            json.dumps(finish(self.spec.to_dict()), indent=2, ensure_ascii=False),
            mimetype="application/json",
        )


def signed_identity(secret: str) -> Authenticate:
    """Services trust only the identity header signed by the gateway."""

    def authenticate(req: Request) -> Identity | None:
        token = req.headers.get(IDENTITY_HEADER)
        return verify_identity(secret, token) if token else None

    return authenticate


def create_base_app(
    settings: Settings,
    db: Database,
    *,
    title: str,
    description: str,
    blueprints: Iterable[Blueprint],
    authenticate: Authenticate | None = None,
    extra_public_paths: Iterable[str] = (),
    strict_inputs: bool = True,
) -> Flask:
    """A Flask app with problem errors, auth, tracing, probes, metrics and OpenAPI.

    With ``strict_inputs`` (every API; not the gateway's HTML pages) a body must be JSON
    (415), is parsed safely once (400/422) and an undeclared query parameter is 422."""
    service = settings.service
    app = TameioFlask(f"tameio.{service}")
    _configure(app, settings, title, description)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["tameio"] = ServiceContext(settings=settings, db=db)
    _install_request_hooks(
        app,
        authenticate or signed_identity(settings.internal_secret),
        PUBLIC_PATHS | frozenset(extra_public_paths),
        strict_inputs=strict_inputs,
    )
    _install_error_handlers(app)
    _install_probes(app, db, service)
    install_metrics(app, db, service)
    api = ProblemApi(app)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    app.extensions["tameio_api"] = api
    app.wsgi_app = Edge(app.wsgi_app, tls=settings.tls)  # type: ignore[method-assign]
    return app


def _configure(app: Flask, settings: Settings, title: str, description: str) -> None:
    """Flask and OpenAPI settings: limits, cookie, the document's title and servers."""
    service = settings.service
    app.config.update(
        API_TITLE=title,
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_SECURE=settings.tls,
        API_SPEC_OPTIONS={
            "info": {"description": description},
            "servers": [{"url": f"/api/{service}"}] if service != "gateway" else [{"url": "/"}],
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )


def _install_request_hooks(
    app: Flask, authenticate: Authenticate, public: frozenset[str], *, strict_inputs: bool
) -> None:
    """Per request: trace ids, body size, authentication and input checks before; one log
    line and the request id after."""

    @app.before_request
    def _trace_and_authenticate() -> None:
        g.started = time.perf_counter()
        request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
        correlation = request.headers.get("X-Correlation-ID") or request_id
        g.trace_token = set_trace(
            Trace(request_id=request_id[:100], correlation_id=correlation[:100])
        )
        check_body_size()  # before authentication: an anonymous client cannot make us read
        g.identity = None if request.path in public else authenticate(request)
        if g.identity is None and request.path not in public and request.endpoint is not None:
            raise Problem(401, "A valid token is required.", headers={"WWW-Authenticate": "Bearer"})
        if strict_inputs:
            check_query_parameters()
            read_json_body()

    @app.after_request
    def _request_id(response: Response) -> Response:
        started = g.pop("started", None)
        if started is not None:  # one line per request: method, path, status, time
            log_request(
                request.method, request.script_root + request.path, response.status_code, started
            )
        token = g.pop("trace_token", None)
        if token is not None:
            response.headers["X-Request-ID"] = current_trace().request_id
            reset_trace(token)
        return response


def _install_error_handlers(app: Flask) -> None:
    """Every error as a problem answer: ours, stale writes, HTTP errors, database trouble."""

    @app.errorhandler(Problem)
    def _problem(error: Problem) -> Response:
        return problem_response(
            error.status,
            error.detail,
            title=error.title,
            errors=error.errors,
            headers=error.headers,
        )

    @app.errorhandler(StaleDataError)
    def _stale(_error: StaleDataError) -> Response:
        return problem_response(
            409, "Someone else changed this record first; reload and try again."
        )

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):
            return from_http_exception(error)
        if is_conflict(error):
            log.warning("transient database conflict after %d tries: %s", ATTEMPTS, error)
            return problem_response(
                503,
                "The database was busy with a conflicting change; try again.",
                headers={"Retry-After": "1"},
            )
        if isinstance(error, (OperationalError, InterfaceError)):
            # The database went away mid-request (a restart, a killed connection): nothing
            # was committed, and trying again shortly is the right thing for a client.
            log.warning("database unavailable: %s", error.orig or error)
            answer = problem_response(503, "The database is unavailable; try again shortly.")
            answer.headers["Retry-After"] = "2"
            return answer
        log.exception("unhandled error")
        return problem_response(
            500, "Something went wrong on our side; the request id identifies it."
        )


def _install_probes(app: Flask, db: Database, service: str) -> None:
    """``/healthz`` (the process answers) and ``/readyz`` (its database, and its broker as
    the worker last saw it)."""

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok", service=service)

    @app.get("/readyz")
    def readyz() -> Response:
        try:
            db.ping()
        except Exception as exc:
            return problem_response(503, f"database unreachable: {type(exc).__name__}")
        broker = "unknown"
        try:
            with db.engine.connect() as conn:
                row = conn.execute(select(db.tables.worker_status.c.broker_connected)).first()
            if row is not None:
                broker = "connected" if row.broker_connected else "disconnected"
        except Exception:
            pass
        return jsonify(status="ready", service=service, database="ok", broker=broker)


def openapi_document(app: Flask) -> dict[str, Any]:
    """The app's OpenAPI document exactly as ``/openapi.json`` serves it."""
    api: Api = app.extensions["tameio_api"]
    return finish(api.spec.to_dict())
