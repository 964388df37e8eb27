"""create_app() for the reporting service, and its ``tameio rebuild-reports`` command."""

from __future__ import annotations

from pathlib import Path

import click

from services.reporting import api, handlers, models
from services.reporting.commands import rebuild_read_models
from shared.config import load_settings
from shared.service import ServiceDefinition


@click.command("rebuild-reports")
def rebuild_reports() -> None:
    """Replay reporting's event log into fresh read models (what POST /admin/rebuild does,
    without an HTTP request's time limit); progress is logged as it goes."""
    settings = load_settings("reporting", require_secret=False)
    db = SERVICE.database(settings)
    try:
        with db.unit_of_work() as uow:
            count = rebuild_read_models(uow.session)
            uow.commit()
    finally:
        db.dispose()
    click.echo(f"reporting: read models rebuilt from {count} logged events")


SERVICE = ServiceDefinition(
    name="reporting",
    title="Tameio reporting",
    description="Aging, outstanding balances, revenue and payment behaviour, from every event.",
    metadata=models.Base.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    blueprints=(api.blp,),
    handlers=handlers.HANDLERS,
    commands=(rebuild_reports,),
)


# create_app(settings=None, db=None) -> Flask: the service's Flask app factory.
create_app = SERVICE.create_app
