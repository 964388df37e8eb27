"""The database server restarts under load: a private PostgreSQL cluster the test starts
itself holds every service's database, and is restarted while payments flow."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from services.registry import SERVICES
from shared.messaging.topology import Topology
from tests.support.faults import Book, Poisoned, gateway_with_items, reconcile
from tests.support.gateway import Gateway
from tests.support.harness import delete_topology
from tests.support.pgcluster import PrivateCluster
from tests.support.realmode import RealSuite, start_real_suite


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    private = PrivateCluster()
    yield private
    private.destroy()


@pytest.fixture(scope="module")
def suite(amqp_url: str, run_id: str, cluster: PrivateCluster) -> Iterator[RealSuite]:
    exchange, prefix = f"tameio.test.{run_id}.pgrestart", f"t{run_id}-pgrestart."
    real = start_real_suite(amqp_url, exchange, prefix, database=cluster.url)
    yield real
    real.stop()
    delete_topology(amqp_url, Topology(exchange, [s.queue for s in SERVICES.values()], prefix))


@pytest.fixture(scope="module")
def api(suite: RealSuite) -> Gateway:
    return gateway_with_items(suite)


def test_a_restart_of_the_database_server_under_load_loses_nothing(suite, api, amqp_url, cluster):
    book = Book.open(api)
    with book.streaming(16):
        time.sleep(1.0)
        cluster.restart()
    reconcile(suite, api, amqp_url, book.customers, Poisoned())
