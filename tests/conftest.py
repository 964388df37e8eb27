"""Fixtures: real RabbitMQ and PostgreSQL (or memory:// and SQLite for embedded mode).

Every test gets its own databases (cloned from migrated templates), its own exchange and
queue names, so the suite can run twice in a row, or beside a running Tameio.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.registry import SERVICES
from shared.messaging.topology import Topology
from tests.support.databases import PostgresFactory
from tests.support.harness import (
    ServiceUnderTest,
    declare,
    delete_topology,
    make_settings,
)
from tests.support.servers import (
    broker_url,
    database_server_url,
    require_broker,
    require_database,
    stop_containers,
)
from tests.support.subscriber import PikaSubscriber

_case = itertools.count(1)


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    url = broker_url()
    require_broker(url)
    yield url
    stop_containers()


@pytest.fixture(scope="session")
def postgres(run_id: str) -> Iterator[PostgresFactory]:
    url = database_server_url()
    require_database(url)
    factory = PostgresFactory(url, run_id)
    yield factory
    factory.drop_all()


@pytest.fixture
def names(run_id: str) -> tuple[str, str]:
    """This test's own exchange and queue prefix."""
    case = next(_case)
    return f"tameio.test.{run_id}.{case}", f"t{run_id}-{case}."


ServiceFactory = Callable[..., ServiceUnderTest]


@pytest.fixture
def service_factory(
    request: pytest.FixtureRequest, names: tuple[str, str], tmp_path: Path
) -> Iterator[ServiceFactory]:
    """Build services for one test: ``make("customers")`` on PostgreSQL + RabbitMQ,
    ``make("customers", embedded=True)`` on SQLite + memory://. All share one topology."""
    exchange, prefix = names
    made: list[tuple[ServiceUnderTest, Any]] = []
    started_topology: list[Topology] = []

    def make(
        name: str,
        *,
        embedded: bool = False,
        with_worker: bool = False,
        broker: str | None = None,
        **extra: str,
    ) -> ServiceUnderTest:
        definition = SERVICES[name]
        if embedded:
            url = f"sqlite:///{tmp_path / f'{name}.db'}"
            definition.migrate(make_settings(name, url, "memory://", exchange, prefix))
            amqp = broker or "memory://"
            cleanup: Any = None
        else:
            pg: PostgresFactory = request.getfixturevalue("postgres")
            url = pg.fresh(definition)
            amqp = broker or request.getfixturevalue("amqp_url")
            cleanup = (pg, url)
        settings = make_settings(name, url, amqp, exchange, prefix, **extra)
        specs = [s.definition.queue for s, _ in made] + [definition.queue]
        topology = Topology(exchange, specs, prefix, sort_versions=not settings.embedded)
        for s, _ in made:
            s.topology = topology
        sut = ServiceUnderTest(definition, settings, definition.database(settings), topology)
        made.append((sut, cleanup))
        started_topology[:] = [topology]
        if not amqp.startswith("memory://") or with_worker:
            declare(amqp if not amqp.startswith("memory://") else "memory://", topology)
        if with_worker:
            sut.start_worker()
        return sut

    yield make

    for sut, _ in made:
        sut.stop_worker()
    for sut, cleanup in made:
        sut.db.dispose()
        if cleanup is not None:
            pg, url = cleanup
            pg.drop(url)
    uses_rabbitmq = any(not sut.settings.embedded for sut, _ in made)
    if started_topology and uses_rabbitmq:
        # Directly, not through whatever proxy a test put in front of the broker.
        delete_topology(request.getfixturevalue("amqp_url"), started_topology[0])


@pytest.fixture
def subscriber(amqp_url: str, names: tuple[str, str]) -> Iterator[PikaSubscriber]:
    """An outside pika subscriber bound to this test's exchange with '#'."""
    exchange, _ = names
    sub = PikaSubscriber(amqp_url, exchange)
    yield sub
    sub.close()
