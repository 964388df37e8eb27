"""The worker's singletons: one active relay per service, daily jobs once per business date."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

from shared.messaging.relay import Relay
from shared.messaging.worker import Job, Worker
from tests.support.harness import wait_until


def test_only_one_relay_per_service_is_active_and_a_standby_takes_over(service_factory, subscriber):
    customers = service_factory("customers")
    settings = customers.settings
    relays = [
        Relay(customers.db, settings.broker_url, settings.exchange, poll_seconds=0.2)
        for _ in range(2)
    ]
    stops = [threading.Event(), threading.Event()]
    threads = [
        threading.Thread(target=r.run, args=(s,), daemon=True)
        for r, s in zip(relays, stops, strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: any(r.active for r in relays), what="a relay to take the lock")
        assert sum(r.active for r in relays) == 1
        leader = next(i for i, r in enumerate(relays) if r.active)

        client = customers.client(role="clerk")
        client.post("/customers", json={"name": "First"})
        wait_until(lambda: customers.unpublished() == 0, what="the leader to publish")

        stops[leader].set()
        threads[leader].join(10)
        standby = relays[1 - leader]
        wait_until(lambda: standby.active, timeout=15, what="the standby to take over")
        client.post("/customers", json={"name": "Second"})
        wait_until(lambda: customers.unpublished() == 0, what="the new leader to publish")

        received = subscriber.collect(2)
        assert [m.body["data"]["name"] for m in received] == ["First", "Second"]
        assert len({m.body["id"] for m in subscriber.drain(0.5)}) == 2, "each event published once"
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(10)


def test_the_relays_own_settings_never_reach_the_connections_the_service_writes_with(
    service_factory, subscriber
):
    customers = service_factory("customers")
    settings = customers.settings
    relay = Relay(customers.db, settings.broker_url, settings.exchange, poll_seconds=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(lambda: relay.active, what="the relay to take the lock")
        customers.client(role="clerk").post("/customers", json={"name": "Durable"})
        wait_until(lambda: customers.unpublished() == 0, what="the relay to publish")
        assert subscriber.collect(1)
    finally:
        stop.set()
        thread.join(10)

    # Its marks may skip waiting for the disk; the service's own commits always wait.
    engine = customers.db.engine
    held = [engine.connect() for _ in range(engine.pool.size())]  # type: ignore[attr-defined]
    try:
        assert {c.exec_driver_sql("SHOW synchronous_commit").scalar() for c in held} == {"on"}
    finally:
        for conn in held:
            conn.close()


def test_a_daily_job_runs_once_per_business_date(service_factory):
    customers = service_factory("customers")
    runs: list[dt.date] = []
    job = Job("count", lambda _db, as_of: runs.append(as_of), at=dt.time(1, 0))
    worker = Worker(customers.settings, customers.db, customers.topology, jobs=[job])
    early = dt.datetime(2026, 3, 1, 0, 30, tzinfo=dt.UTC)
    later = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)

    assert worker.run_job_if_due(job, early) is False, "not before its time of day"
    assert worker.run_job_if_due(job, later) is True
    assert worker.run_job_if_due(job, later) is False, "not twice for one date"
    assert runs == [dt.date(2026, 3, 1)], "jobs run for the business date, in TAMEIO_TIMEZONE"


def test_the_relays_outbox_statements_are_planned_for_the_outbox_as_it_is_now(service_factory):
    # PostgreSQL caches a prepared statement's generic plan after a few runs; one cached
    # while the outbox was nearly empty (read the whole table) would stay, and each round
    # would read every row published since. The relay's statements are planned at each call.
    customers = service_factory("customers")
    settings = customers.settings
    relay = Relay(customers.db, settings.broker_url, settings.exchange)
    outbox = customers.db.tables.outbox

    def add_rows(count: int, published: bool) -> None:
        now = dt.datetime.now(dt.UTC)
        with customers.db.engine.begin() as conn:
            conn.execute(
                outbox.insert(),
                [
                    {
                        "event_id": str(uuid.uuid4()),
                        "event_type": "customers.customer.created",
                        "subject": "C",
                        "sequence": 1,
                        "payload": "{}",
                        "created_at": now,
                        "published_at": now if published else None,
                    }
                    for _ in range(count)
                ],
            )

    with relay._outbox_connection() as db_conn:
        assert db_conn is not None
        for _ in range(12):  # psycopg prepares at the 5th run; PostgreSQL tries generic at the 6th
            add_rows(1, published=False)
            relay._mark_published([row[0] for row in relay._read_pending(db_conn)], db_conn)
        add_rows(5000, published=True)
        add_rows(3, published=False)
        relay._mark_published([row[0] for row in relay._read_pending(db_conn)], db_conn)
        plans = db_conn.exec_driver_sql(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
        ).all()
    on_outbox = [p for p in plans if "outbox" in p.statement]
    assert on_outbox, "the relay's statements are prepared (parsed once)"
    assert all(p.generic_plans == 0 and p.custom_plans > 0 for p in on_outbox), on_outbox
    assert customers.unpublished() == 0
