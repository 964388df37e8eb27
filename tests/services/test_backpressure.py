"""Backpressure: money-moving creates answer 503 with Retry-After while a fresh reading of a
consuming queue they feed is over TAMEIO_BACKPRESSURE_DEPTH; stale or shallow readings let
them through; the worker takes its readings from the real queues."""

from __future__ import annotations

import datetime as dt

import pika
from sqlalchemy import select

from services.payments.models import Payment, queue_depths
from shared.clock import utcnow
from shared.messaging.backpressure import DepthGauge
from shared.web.backpressure import reading_cache
from tests.services.test_payments_api import Payments
from tests.support.events import body_of, envelope
from tests.support.harness import wait_until
from tests.support.realmode import free_port
from tests.support.subscriber import pika_url


def _payments(service_factory, **extra: str) -> Payments:
    return Payments(
        service_factory(
            "payments",
            TAMEIO_CUSTOMERS_URL=f"http://127.0.0.1:{free_port()}",
            TAMEIO_BILLING_URL=f"http://127.0.0.1:{free_port()}",
            TAMEIO_BACKPRESSURE_DEPTH="100",
            **extra,
        )
    )


def test_a_fresh_reading_over_the_bound_refuses_creates_and_stale_or_shallow_ones_do_not(
    service_factory,
):
    payments = _payments(service_factory, broker="memory://")
    customer = payments.customer()
    gauge = DepthGauge(payments.sut.db, "memory://", ["billing.events"])

    def reading(depth: int, age: float) -> None:
        gauge.store({"billing.events": depth}, at=utcnow() - dt.timedelta(seconds=age))
        with payments.sut.app.app_context():
            reading_cache().forget()  # the web reads the table at most once a second

    reading(101, age=1)
    refused = payments.post_payment(customer, "10.00")
    assert refused.status_code == 503
    assert refused.content_type == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
    assert "billing.events" in refused.get_json()["detail"]
    assert payments.post_refund(customer, "1.00").status_code == 503
    assert payments.payment_rows() == [], "nothing was recorded"

    metrics = payments.sut.app.test_client().get("/metrics").get_data(as_text=True)
    assert 'tameio_backpressure_queue_depth{queue="billing.events"} 101.0' in metrics
    assert 'tameio_backpressure_reading_age_seconds{queue="billing.events"}' in metrics

    reading(5000, age=31)  # from before the broker went away: ignored
    assert payments.post_payment(customer, "10.00").status_code == 201
    reading(100, age=1)  # at the bound, not over it
    assert payments.post_payment(customer, "10.00").status_code == 201
    assert len(payments.payment_rows()) == 2


def test_the_worker_stores_the_depth_of_the_real_queue_its_creates_feed(service_factory, amqp_url):
    service_factory("billing")  # its queue exists; nothing consumes it here
    payments = _payments(service_factory, TAMEIO_BACKPRESSURE_POLL_SECONDS="0.2")
    customer = payments.customer()
    sut = payments.sut
    billing_queue = sut.topology.queue_name("billing")

    connection = pika.BlockingConnection(pika.URLParameters(pika_url(amqp_url)))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for _ in range(101):
            sent = envelope("contracts.tax_rates.updated", "tax-rates", 1, {}, source="contracts")
            channel.basic_publish(
                sut.topology.exchange.name, "contracts.tax_rates.updated", body_of(sent).encode()
            )
    finally:
        connection.close()

    sut.start_worker()

    def stored() -> int | None:
        with sut.db.engine.connect() as conn:
            row = conn.execute(
                select(queue_depths.c.depth).where(queue_depths.c.queue == billing_queue)
            ).first()
        return None if row is None else row.depth

    wait_until(lambda: stored() == 101, what="the worker to store billing's queue depth")
    refused = payments.post_payment(customer, "10.00")
    assert refused.status_code == 503, refused.get_json()
    assert "Retry-After" in refused.headers
    with sut.db.engine.connect() as conn:
        assert conn.execute(select(Payment.id)).first() is None


def test_events_the_outbox_has_yet_to_publish_count_in_the_reading(service_factory, amqp_url):
    """They are on their way to the queue; a reading of the queue alone would let the web go
    on accepting while the relay falls behind."""
    service_factory("billing")  # its queue exists and stays empty here
    payments = _payments(service_factory)
    sut = payments.sut
    billing_queue = sut.topology.queue_name("billing")
    gauge = DepthGauge(sut.db, amqp_url, [billing_queue])
    outbox = sut.db.tables.outbox
    now = utcnow()
    with sut.db.engine.begin() as conn:
        conn.execute(
            outbox.insert(),
            [
                {
                    "event_id": f"backlog-{n}",
                    "event_type": "payments.payment.received",
                    "subject": f"payment-{n}",
                    "sequence": 1,
                    "payload": "{}",
                    "created_at": now,
                    "published_at": now if n < 3 else None,
                }
                for n in range(10)
            ],
        )
    assert gauge.outbox_backlog() == 7  # the three published ones do not count
