"""create_app() for the contracts service."""

from __future__ import annotations

from pathlib import Path

from services.contracts import api, handlers, models
from shared.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="contracts",
    title="Tameio contracts",
    description="Item catalog, tax rates, customer contracts and the pricing rule.",
    metadata=models.Base.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    blueprints=(api.blp,),
    handlers=handlers.HANDLERS,
    # Its customer replica is read when a contract is made right after the customer.
    consumer_linger=0.05,
)


# create_app(settings=None, db=None) -> Flask: the service's Flask app factory.
create_app = SERVICE.create_app
