"""Services under test: a real app, database and (optionally) worker, and a signed client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from kombu import Connection
from sqlalchemy import select

from shared.config import Settings, load_settings
from shared.db import Database
from shared.messaging.topology import Topology
from shared.messaging.worker import Worker
from shared.service import ServiceDefinition
from shared.web.auth import IDENTITY_HEADER, Identity, sign_identity

SECRET = "test-internal-secret-0123456789"


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str | Callable[[], str] = "",
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {described or predicate}")
        time.sleep(interval)


class SignedClient:
    """A Flask test client that calls as a given role, as the gateway would."""

    def __init__(self, app: Flask, role: str = "admin", subject: str = "tester") -> None:
        self.client: FlaskClient = app.test_client()
        self.identity = Identity(subject=subject, role=role)

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {IDENTITY_HEADER: sign_identity(SECRET, self.identity), **(headers or {})}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.client.post(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.client.patch(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.client.put(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)


@dataclass
class ServiceUnderTest:
    definition: ServiceDefinition
    settings: Settings
    db: Database
    topology: Topology
    app: Flask = field(init=False)
    worker: Worker | None = None

    def __post_init__(self) -> None:
        self.app = self.definition.create_app(self.settings, self.db)

    def client(self, role: str = "admin", subject: str = "tester") -> SignedClient:
        return SignedClient(self.app, role, subject)

    def start_worker(self) -> Worker:
        self.worker = self.definition.worker(self.settings, self.db, self.topology)
        self.worker.start()
        return self.worker

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def outbox(self) -> list[Any]:
        outbox = self.db.tables.outbox
        with self.db.engine.connect() as conn:
            return list(conn.execute(select(outbox).order_by(outbox.c.id)))

    def unpublished(self) -> int:
        return sum(1 for row in self.outbox() if row.published_at is None)

    def rows(self, table: Any) -> list[Any]:
        with self.db.engine.connect() as conn:
            return list(conn.execute(select(table)))


def make_settings(
    service: str, database_url: str, broker_url: str, exchange: str, prefix: str, **extra: str
) -> Settings:
    env = {
        "TAMEIO_INTERNAL_SECRET": SECRET,
        f"TAMEIO_{service.upper()}_DATABASE_URL": database_url,
        "TAMEIO_BROKER_URL": broker_url,
        "TAMEIO_EXCHANGE": exchange,
        "TAMEIO_QUEUE_PREFIX": prefix,
        "TAMEIO_RETRY_BASE_DELAY_SECONDS": "0.2",
        "TAMEIO_RELAY_POLL_SECONDS": "0.2",
        **extra,
    }
    return load_settings(service, env)


def delete_topology(broker_url: str, topology: Topology) -> None:
    if broker_url.startswith("memory://"):
        return
    with Connection(broker_url, connect_timeout=3) as conn:
        channel = conn.channel()
        for service in topology.queues:
            for queue in (topology.queue(service), topology.parked_queue(service)):
                try:
                    queue(channel).delete()
                except Exception:
                    channel = conn.channel()
        for exchange in topology.exchanges:
            try:
                exchange(channel).delete()
            except Exception:
                channel = conn.channel()


def clear_policies(prefix: str) -> None:
    """Remove the queue policies `tameio up` set for queues named with ``prefix``."""
    import shutil
    import subprocess

    if not prefix or not shutil.which("rabbitmqctl"):
        return
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_policies", "--formatter", "json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    import json

    clearing = [  # side by side: each rabbitmqctl takes a second or two to start
        subprocess.Popen(["rabbitmqctl", "-q", "clear_policy", policy["name"]])
        for policy in json.loads(listed.stdout or "[]")
        if policy.get("name", "").startswith(prefix)
    ]
    for process in clearing:
        process.wait(30)


def declare(broker_url: str, topology: Topology) -> None:
    with Connection(broker_url, connect_timeout=3) as conn:
        topology.declare(conn.default_channel)


def queue_specs(definitions: Iterable[ServiceDefinition]) -> list[Any]:
    return [d.queue for d in definitions]
