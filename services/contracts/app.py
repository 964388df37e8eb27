"""create_app() for the contracts service."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.contracts import handlers, models
from shared.config import Settings
from shared.db import Database
from shared.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="contracts",
    title="Tameio contracts",
    description="Item catalog, tax rates, customer contracts and the pricing rule.",
    metadata=models.Base.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=handlers.HANDLERS,
)


def create_app(settings: Settings | None = None, db: Database | None = None) -> Flask:
    return SERVICE.create_app(settings, db)
