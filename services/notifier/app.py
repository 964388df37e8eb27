"""create_app() for the notifier service."""

from __future__ import annotations

from pathlib import Path

from services.notifier import api, handlers, jobs, models
from shared.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="notifier",
    title="Tameio notifier",
    description="Invoice emails, receipts, partial-payment notices and reminders.",
    metadata=models.Base.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    blueprints=(api.blp,),
    handlers=handlers.HANDLERS,
    jobs=jobs.JOBS,
    loops=jobs.LOOPS,
)


# create_app(settings=None, db=None) -> Flask: the service's Flask app factory.
create_app = SERVICE.create_app
