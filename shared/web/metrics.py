"""Prometheus metrics: per-request counters, and what the database says about messaging.

The outbox backlog, dead letters and retries are read from the service database at scrape
time; broker connection state and consumer lag are what the service's worker last wrote
to ``worker_status``, so any web process reports them truthfully.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select

from shared.clock import utcnow
from shared.db import Database
from shared.messaging.backpressure import TABLE as DEPTHS_TABLE
from shared.messaging.outbox import count_unpublished


class MessagingCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Any]:
        tables = self.db.tables
        up = GaugeMetricFamily("tameio_database_up", "1 if the service database answered")
        try:
            with self.db.engine.connect() as conn:
                backlog, oldest = count_unpublished(conn, tables.outbox)
                parked = conn.execute(
                    select(func.count())
                    .select_from(tables.dead_letters)
                    .where(tables.dead_letters.c.replayed_at.is_(None))
                ).scalar_one()
                retrying = conn.execute(
                    select(func.count()).select_from(tables.retries)
                ).scalar_one()
                status = conn.execute(select(tables.worker_status)).first()
                depths = _depth_readings(self.db, conn)
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "tameio_outbox_backlog", "Events written but not yet published", value=backlog
        )
        age = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=utcnow().tzinfo)
            age = max((utcnow() - oldest).total_seconds(), 0.0)
        yield GaugeMetricFamily(
            "tameio_outbox_oldest_seconds", "Age of the oldest unpublished event", value=age
        )
        yield GaugeMetricFamily(
            "tameio_dead_letters", "Parked events not yet replayed", value=parked
        )
        yield GaugeMetricFamily(
            "tameio_event_retries", "Events waiting for another attempt", value=retrying
        )
        if status is not None:
            yield from _worker_metrics(status)
        yield from _depth_metrics(depths)


def _depth_readings(db: Database, conn: Connection) -> list[Any]:
    """The worker's last readings of the queues backpressure watches (none if it keeps none)."""
    table = db.metadata.tables.get(DEPTHS_TABLE)
    return [] if table is None else list(conn.execute(select(table)))


def _depth_metrics(readings: list[Any]) -> Iterator[Any]:
    """Each watched queue's depth as last read, and the reading's age (over 30 s: ignored)."""
    if not readings:
        return
    depth = GaugeMetricFamily(
        "tameio_backpressure_queue_depth",
        "Ready messages in a queue this service's money-moving creates feed, as last read",
        labels=["queue"],
    )
    age = GaugeMetricFamily(
        "tameio_backpressure_reading_age_seconds",
        "Age of that reading (backpressure ignores one older than 30 s)",
        labels=["queue"],
    )
    now = utcnow()
    for row in readings:
        read_at = row.read_at if row.read_at.tzinfo else row.read_at.replace(tzinfo=now.tzinfo)
        depth.add_metric([row.queue], row.depth)
        age.add_metric([row.queue], max((now - read_at).total_seconds(), 0.0))
    yield depth
    yield age


def _worker_metrics(status: Any) -> Iterator[Any]:
    """What the worker reported last: broker connection, age, consumer state and lag."""
    fresh = (utcnow() - status.updated_at).total_seconds() < 30
    yield GaugeMetricFamily(
        "tameio_broker_connected",
        "1 if the worker is connected to the broker",
        value=1 if (status.broker_connected and fresh) else 0,
    )
    yield GaugeMetricFamily(
        "tameio_worker_seconds_since_report",
        "Age of the worker's last status",
        value=(utcnow() - status.updated_at).total_seconds(),
    )
    if status.consumer_state is not None:
        state = GaugeMetricFamily(
            "tameio_consumer_state",
            "1 for the state the worker's consumer (or relay) reported last",
            labels=["state"],
        )
        state.add_metric([status.consumer_state], 1)
        yield state
        yield GaugeMetricFamily(
            "tameio_consumer_restarts",
            "Times the worker's consumer (or relay) started over after a failure",
            value=status.consumer_restarts or 0,
        )
        error = GaugeMetricFamily(
            "tameio_consumer_last_error",
            "1, labelled with the last failure the consumer (or relay) reported",
            labels=["error"],
        )
        error.add_metric([(status.last_error or "")[:200]], 1)
        yield error
    if status.consumer_lag is not None:
        yield GaugeMetricFamily(
            "tameio_consumer_lag",
            "Messages waiting in the service queue",
            value=status.consumer_lag,
        )


def install_metrics(app: Flask, db: Database, service: str) -> None:
    """Add request metrics and ``/metrics`` (its own registry per app)."""
    registry = CollectorRegistry()
    requests_total = Counter(
        "tameio_http_requests",
        "HTTP requests answered",
        ["service", "method", "endpoint", "status"],
        registry=registry,
    )
    latency = Histogram(
        "tameio_http_request_seconds",
        "HTTP request latency",
        ["service", "method", "endpoint"],
        registry=registry,
    )
    registry.register(MessagingCollector(db))

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        requests_total.labels(service, request.method, endpoint, str(response.status_code)).inc()
        started = g.get("metrics_started")
        if started is not None:
            latency.labels(service, request.method, endpoint).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
