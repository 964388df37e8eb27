"""create_app() for the gateway: its own app, with the API router in front."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Request

from services.gateway import models
from services.gateway.domain import TokenCache, identify_token
from services.gateway.routing import ApiRouter, HttpBackend, WSGIApp
from services.gateway.throttle import LoginThrottle
from services.gateway.ui.app import create_ui
from shared.config import BUSINESS_SERVICES, Settings
from shared.db import Database
from shared.service import ServiceDefinition
from shared.web.app import PUBLIC_PATHS, create_base_app
from shared.web.auth import Identity
from shared.web.edge import Edge

SERVICE = ServiceDefinition(
    name="gateway",
    title="Tameio gateway",
    description="The public entry: API routing to every service, tokens, staff users, UI.",
    metadata=models.Base.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
)


def create_app(
    settings: Settings | None = None,
    db: Database | None = None,
    backends: Mapping[str, WSGIApp] | None = None,
) -> Flask:
    """The gateway; ``backends`` maps service names to in-process apps (embedded mode),
    otherwise each service is reached over HTTP at its TAMEIO_<SERVICE>_URL."""
    settings = settings or SERVICE.settings()
    db = db or SERVICE.database(settings)

    cache = TokenCache(ttl_seconds=10.0)

    def token_identity(token: str) -> Identity | None:
        known, identity = cache.get(token)
        if not known:
            with db.unit_of_work() as uow:
                identity = identify_token(uow.session, token, settings.bootstrap_token)
            cache.put(token, identity)
        return identity

    def request_identity(req: Request) -> Identity | None:
        scheme, _, token = req.headers.get("Authorization", "").partition(" ")
        return (
            token_identity(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        )

    app = create_base_app(
        settings,
        db,
        title=SERVICE.title,
        description=SERVICE.description,
        blueprints=[],
        authenticate=request_identity,
        # Its own routes are probes and documents; the staff UI's forms have their own
        # query strings, and /api/ is checked by the service it reaches.
        strict_inputs=False,
    )
    if backends is None:
        backends = {
            name: HttpBackend(name, settings.service_urls[name]) for name in BUSINESS_SERVICES
        }
    own = app.wsgi_app
    router = ApiRouter(
        own,
        backends,
        token_identity,
        settings.internal_secret,
        throttle=LoginThrottle(db),
        trusted_proxies=settings.trusted_proxies,
    )
    ui = create_ui(settings, db, router.as_identity)

    def gateway_or_ui(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # The gateway's probes, metrics and OpenAPI; every other page is the staff UI.
        if environ.get("PATH_INFO", "") in PUBLIC_PATHS:
            return own(environ, start_response)
        return ui.wsgi_app(environ, start_response)

    router.gateway_app = gateway_or_ui
    app.wsgi_app = Edge(router, tls=settings.tls)  # type: ignore[method-assign]
    app.extensions["tameio_ui_app"] = ui
    return app
