"""create_app() for the gateway: its own app, with the API router in front; its first
start and its ``tameio token`` and ``tameio user`` commands."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
from flask import Flask, Request

from services.gateway import commands, models
from services.gateway.routing import ApiRouter, HttpBackend, WSGIApp
from services.gateway.throttle import LoginThrottle
from services.gateway.tokens import TokenCache, token_identity
from services.gateway.ui.app import create_ui
from shared.config import BUSINESS_SERVICES, Settings, load_settings
from shared.db import Database
from shared.service import ServiceDefinition
from shared.web.app import PUBLIC_PATHS, create_base_app
from shared.web.auth import Identity
from shared.web.edge import Edge

TITLE = "Tameio gateway"
DESCRIPTION = "The public entry: API routing to every service, tokens, staff users, UI."
log = logging.getLogger("tameio")


def create_app(
    settings: Settings | None = None,
    db: Database | None = None,
    backends: Mapping[str, WSGIApp] | None = None,
) -> Flask:
    """The gateway; ``backends`` maps service names to in-process apps (embedded mode),
    otherwise each service is reached over HTTP at its TAMEIO_<SERVICE>_URL."""
    settings = settings or load_settings("gateway")
    db = db or SERVICE.database(settings)

    cache = TokenCache(ttl_seconds=10.0)
    identify = token_identity(db, settings.bootstrap_token, cache)

    def request_identity(req: Request) -> Identity | None:
        scheme, _, token = req.headers.get("Authorization", "").partition(" ")
        return identify(token.strip()) if scheme.lower() == "bearer" and token.strip() else None

    app = create_base_app(
        settings,
        db,
        title=TITLE,
        description=DESCRIPTION,
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
        identify,
        settings.internal_secret,
        throttle=LoginThrottle(db),
        trusted_proxies=settings.trusted_proxies,
    )
    ui = create_ui(settings, db, router.as_identity, forget_token=cache.forget)

    def gateway_or_ui(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # The gateway's probes, metrics and OpenAPI; every other page is the staff UI.
        if environ.get("PATH_INFO", "") in PUBLIC_PATHS:
            return own(environ, start_response)
        return ui.wsgi_app(environ, start_response)

    router.gateway_app = gateway_or_ui
    app.wsgi_app = Edge(router, tls=settings.tls)  # type: ignore[method-assign]
    app.extensions["tameio_ui_app"] = ui
    return app


# -- first start and commands -------------------------------------------------------------


def _migrated_db(settings: Settings) -> Database:
    SERVICE.migrate(settings)
    return SERVICE.database(settings)


def prepare(settings: Settings) -> str | None:
    """Create the admin user from TAMEIO_ADMIN_EMAIL/PASSWORD if there is no user yet.

    In embedded mode, also make a first admin token when none exists and return it.
    """
    db = _migrated_db(settings)
    first_token = settings.embedded and not settings.bootstrap_token
    with db.unit_of_work() as uow:
        made = commands.first_start(
            uow.session, settings.admin_email, settings.admin_password, first_token=first_token
        )
        uow.commit()
    db.dispose()
    if made.nobody_can_sign_in:
        log.warning(
            "no staff user can sign in to the UI yet: set TAMEIO_ADMIN_EMAIL and "
            "TAMEIO_ADMIN_PASSWORD, or run `tameio user create --email EMAIL --role admin`"
        )
    return made.token


@click.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(["viewer", "clerk", "admin"]))
@click.option("--name", required=True)
def token_create(role: str, name: str) -> None:
    """Print a new API token (shown only this once)."""
    db = _migrated_db(load_settings("gateway", require_secret=False))
    with db.unit_of_work() as uow:
        value = commands.create_token(uow.session, name, role)
        uow.commit()
    click.echo(value)


@click.group()
def user() -> None:
    """Staff users of the UI."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["viewer", "clerk", "admin"]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def user_create(email: str, role: str, password: str) -> None:
    """Create a staff user (asks for the password if not given)."""
    db = _migrated_db(load_settings("gateway", require_secret=False))
    with db.unit_of_work() as uow:
        try:
            created = commands.create_user(uow.session, email, role, password)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        uow.commit()
    click.echo(f"user {created.email} ({role}) created")


SERVICE = ServiceDefinition(
    name="gateway",
    title=TITLE,
    description=DESCRIPTION,
    metadata=models.Base.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    commands=(token, user),
    app_factory=create_app,
    prepare=prepare,
)
