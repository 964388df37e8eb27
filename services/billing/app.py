"""create_app() for the billing service."""

from __future__ import annotations

from pathlib import Path

from services.billing import api, handlers, jobs, models
from shared.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="billing",
    title="Tameio billing",
    description="Invoices, credit notes, the customer account ledger and payment application.",
    metadata=models.Base.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    blueprints=(api.blp,),
    handlers=handlers.HANDLERS,
    jobs=jobs.JOBS,
    # On the path from a payment to its balance update: batch only briefly.
    consumer_linger=0.05,
    # Invoices and credit notes are sent by notifier; payments keeps the invoices and the
    # credit that payments and refunds are checked against (docs/decisions.md).
    backpressure=("payments", "notifier"),
)


# create_app(settings=None, db=None) -> Flask: the service's Flask app factory.
create_app = SERVICE.create_app
