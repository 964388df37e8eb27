"""What the ``tameio`` command needs to know about a service, in one object per service."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask_smorest import Blueprint
from sqlalchemy import MetaData

from shared.config import Settings, load_settings
from shared.db import Database
from shared.messaging.consumer import WILDCARD, Handler
from shared.messaging.topology import QueueSpec, Topology
from shared.messaging.worker import Job, Loop, Worker
from shared.migrations import upgrade
from shared.web import admin
from shared.web.app import create_base_app

# Builds a service's app when the shared one will not do (the gateway routes to the others):
# (settings, db, backends) -> app, where backends are the apps it fronts, by service name.
AppFactory = Callable[[Settings | None, Database | None, Mapping[str, Any] | None], Flask]


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    title: str
    description: str
    metadata: MetaData
    migrations_dir: Path
    blueprints: Sequence[Blueprint] = ()
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    jobs: Sequence[Job] = ()
    loops: Sequence[Loop] = ()
    # Seconds the worker's consumer waits after a message for more to apply in the same
    # transaction (decision 34): latency traded for fewer transactions, commits and relay
    # rounds per event. TAMEIO_CONSUMER_LINGER_SECONDS overrides it.
    consumer_linger: float = 0.2
    # The service's own ``tameio`` commands (click commands or groups); cli.py adds them.
    commands: Sequence[click.Command] = ()
    app_factory: AppFactory | None = None
    # Run before the service serves, after migrating: what must exist first (the gateway's
    # first admin). May answer a first API token to show the operator.
    prepare: Callable[[Settings], str | None] | None = None
    # The consuming services whose queues this service's money-moving creates feed: while
    # one of them is deeper than TAMEIO_BACKPRESSURE_DEPTH those creates answer 503
    # (shared/messaging/backpressure.py; the views carry @backpressured).
    backpressure: Sequence[str] = ()

    @property
    def queue(self) -> QueueSpec:
        """Bound to each handled type, or to the wildcard alone where there is one: it routes
        every type already, a type handled apart (reporting's) among them."""
        if WILDCARD in self.handlers:
            return QueueSpec(self.name, (WILDCARD,))
        return QueueSpec(self.name, tuple(self.handlers))

    def settings(self) -> Settings:
        return load_settings(self.name)

    def database(self, settings: Settings) -> Database:
        return Database(
            self.name,
            settings.database_url,
            self.metadata,
            legacy_event_versions=settings.legacy_event_versions,
        )

    def migrate(self, settings: Settings) -> None:
        upgrade(settings.database_url, self.migrations_dir)

    def create_app(
        self,
        settings: Settings | None = None,
        db: Database | None = None,
        *,
        backends: Mapping[str, Any] | None = None,
    ) -> Flask:
        """The service's Flask app; ``backends`` are the in-process apps of the services it
        fronts (embedded mode), for a service with its own ``app_factory``."""
        if self.app_factory is not None:
            return self.app_factory(settings, db, backends)
        if backends is not None:
            raise TypeError(f"{self.name} fronts no other service")
        settings = settings or self.settings()
        db = db or self.database(settings)
        blueprints = list(self.blueprints)
        if self.handlers:
            blueprints.append(admin.blp)
        return create_base_app(
            settings, db, title=self.title, description=self.description, blueprints=blueprints
        )

    def prepare_to_serve(self, settings: Settings) -> str | None:
        """Run the service's ``prepare`` step, if any; answers a first API token if it made
        one."""
        return self.prepare(settings) if self.prepare is not None else None

    def worker(self, settings: Settings, db: Database, topology: Topology) -> Worker:
        return Worker(
            settings,
            db,
            topology,
            handlers=self.handlers,
            jobs=self.jobs,
            loops=self.loops,
            consumer_linger=self.consumer_linger,
            backpressure=self.backpressure,
        )
