"""`tameio worker` on SIGTERM (docker stop, a Kubernetes rollout): stops taking messages,
finishes and acks the batch in hand, hands back what it had not acked, and exits 0 in time.

Nothing is lost or applied twice: afterwards every published event is either in the
service's inbox or still in its queue, never both and never neither.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pika
from kombu import Connection

from tests.support.events import CREATED, body_of, count, customer_data, envelope
from tests.support.harness import SECRET, wait_until
from tests.support.subscriber import pika_url

EVENTS = 1500


def _publish_customers(broker_url: str, exchange: str, how_many: int) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(pika_url(broker_url)))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for _ in range(how_many):
            customer_id = str(uuid.uuid4())
            body = body_of(envelope(CREATED, customer_id, 1, customer_data(customer_id)))
            channel.basic_publish(
                exchange,
                CREATED,
                body.encode(),
                properties=pika.BasicProperties(content_type="application/json", delivery_mode=2),
            )
    finally:
        connection.close()


def _ready_in_queue(broker_url: str, queue_name: str) -> int:
    with Connection(broker_url, connect_timeout=5) as conn:
        declared = conn.default_channel.queue_declare(queue_name, passive=True)
        return int(declared.message_count)


def test_sigterm_finishes_or_hands_back_every_message(service_factory, tmp_path: Path):
    reporting = service_factory("reporting")  # its database, and the topology declared
    settings = reporting.settings
    _publish_customers(settings.broker_url, settings.exchange, EVENTS)

    env = {
        **os.environ,
        "TAMEIO_INTERNAL_SECRET": SECRET,
        "TAMEIO_REPORTING_DATABASE_URL": settings.database_url,
        "TAMEIO_BROKER_URL": settings.broker_url,
        "TAMEIO_EXCHANGE": settings.exchange,
        "TAMEIO_QUEUE_PREFIX": settings.queue_prefix,
        "TMPDIR": str(tmp_path),  # its heartbeat file, away from any other worker's
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker", "reporting"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    inbox = reporting.db.tables.inbox
    heartbeat = tmp_path / "tameio-reporting-worker.alive"
    try:
        wait_until(lambda: count(reporting, inbox) > 0, timeout=30, what="the worker to consume")
        wait_until(heartbeat.exists, timeout=10, what="the worker's heartbeat file")
        worker.send_signal(signal.SIGTERM)
        started = time.monotonic()
        output, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()

    assert worker.returncode == 0, output
    assert time.monotonic() - started < 25
    assert "worker reporting stopped" in output
    assert not heartbeat.exists()
    applied = count(reporting, inbox)
    left = _ready_in_queue(settings.broker_url, settings.queue_name)
    assert applied + left == EVENTS, f"{applied} applied + {left} left in the queue"
    assert count(reporting, reporting.db.tables.retries) == 0
    assert count(reporting, reporting.db.tables.dead_letters) == 0
