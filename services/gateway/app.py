"""create_app() for the gateway: its own app, with the API router in front."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flask import Flask, Request

from services.gateway import models, ui
from services.gateway.domain import TokenCache, identify_token
from services.gateway.routing import ApiRouter, HttpBackend, WSGIApp
from services.gateway.throttle import LoginThrottle
from shared.config import BUSINESS_SERVICES, Settings
from shared.db import Database
from shared.service import ServiceDefinition
from shared.web.app import create_base_app
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
        blueprints=[ui.blp],
        authenticate=request_identity,
        extra_public_paths=["/"],
        # Its own routes are HTML pages (forms, their own query strings); /api/ is checked
        # by the service it reaches.
        strict_inputs=False,
    )
    if backends is None:
        backends = {
            name: HttpBackend(name, settings.service_urls[name]) for name in BUSINESS_SERVICES
        }
    router = ApiRouter(
        app.wsgi_app,
        backends,
        token_identity,
        settings.internal_secret,
        throttle=LoginThrottle(db),
        trusted_proxies=settings.trusted_proxies,
    )
    app.wsgi_app = Edge(router, tls=settings.tls)  # type: ignore[method-assign]
    return app
