"""create_app() for the customers service."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.customers import api, handlers, models
from shared.config import Settings
from shared.db import Database
from shared.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="customers",
    title="Tameio customers",
    description="Customer records, payment terms and the communication history.",
    metadata=models.Base.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    blueprints=(api.blp,),
    handlers=handlers.HANDLERS,
)


def create_app(settings: Settings | None = None, db: Database | None = None) -> Flask:
    return SERVICE.create_app(settings, db)
