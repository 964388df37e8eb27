"""create_app() for the reporting service."""

from __future__ import annotations

from pathlib import Path

from services.reporting import api, handlers, models
from shared.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="reporting",
    title="Tameio reporting",
    description="Aging, outstanding balances, revenue and payment behaviour, from every event.",
    metadata=models.Base.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    blueprints=(api.blp,),
    handlers=handlers.HANDLERS,
)


# create_app(settings=None, db=None) -> Flask: the service's Flask app factory.
create_app = SERVICE.create_app
