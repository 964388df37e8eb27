"""create_app() for the customers service."""

from __future__ import annotations

from pathlib import Path

from services.customers import api, handlers, models
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


# create_app(settings=None, db=None) -> Flask: the service's Flask app factory.
create_app = SERVICE.create_app
