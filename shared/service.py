"""What the ``tameio`` command needs to know about a service, in one object per service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from flask_smorest import Blueprint
from sqlalchemy import MetaData

from shared.config import Settings, load_settings
from shared.db import Database
from shared.messaging.consumer import Handler
from shared.messaging.topology import QueueSpec, Topology
from shared.messaging.worker import Job, Loop, Worker
from shared.migrations import upgrade
from shared.web import admin
from shared.web.app import create_base_app


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
    # The consuming services whose queues this service's money-moving creates feed: while
    # one of them is deeper than TAMEIO_BACKPRESSURE_DEPTH those creates answer 503
    # (shared/messaging/backpressure.py; the views carry @backpressured).
    backpressure: Sequence[str] = ()

    @property
    def queue(self) -> QueueSpec:
        return QueueSpec(self.name, tuple(self.handlers))

    def settings(self) -> Settings:
        return load_settings(self.name)

    def database(self, settings: Settings) -> Database:
        return Database(self.name, settings.database_url, self.metadata)

    def migrate(self, settings: Settings) -> None:
        upgrade(settings.database_url, self.migrations_dir)

    def create_app(self, settings: Settings | None = None, db: Database | None = None) -> Flask:
        settings = settings or self.settings()
        db = db or self.database(settings)
        blueprints = list(self.blueprints)
        if self.handlers:
            blueprints.append(admin.blp)
        return create_base_app(
            settings, db, title=self.title, description=self.description, blueprints=blueprints
        )

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
