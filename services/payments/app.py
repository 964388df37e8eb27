"""create_app() for the payments service."""

from __future__ import annotations

from pathlib import Path

from services.payments import api, handlers, models
from shared.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="payments",
    title="Tameio payments",
    description="Payments received, reversals and refunds.",
    metadata=models.Base.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    blueprints=(api.blp,),
    handlers=handlers.HANDLERS,
    # Staff wait for a payment to show how billing applied it.
    consumer_linger=0.1,
    # Payments, reversals and refunds are applied by billing.
    backpressure=("billing",),
)


# create_app(settings=None, db=None) -> Flask: the service's Flask app factory.
create_app = SERVICE.create_app
