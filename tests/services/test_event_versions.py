"""A consumer acks, without parking, a version it does not handle of a type it handles: a
slimmer version published side by side with the old one, or one newer than its catalog."""

from __future__ import annotations

from kombu import Connection

from shared.messaging.consumer import EventProcessor, Outcome, handles_versions
from tests.support.events import (
    body_of,
    company_event,
    count,
    dead_letter_rows,
    envelope,
    publish_raw,
    retry_rows,
)
from tests.support.harness import wait_until


def test_a_version_the_consumer_does_not_handle_is_acked_not_parked(service_factory, amqp_url):
    customers = service_factory("customers", with_worker=True)
    inbox = customers.db.tables.inbox
    # customers handles billing.invoice.issued in version 1; version 2 is one it has never
    # seen (its catalog has no schema for it), with data version 1 would refuse.
    newer = envelope(
        "billing.invoice.issued", "inv-1", 1, {"invoice_id": "inv-1"}, source="billing", version=2
    )
    known = company_event()
    publish_raw(customers, body_of(newer), "billing.invoice.issued")
    publish_raw(customers, body_of(known), "billing.company.updated")

    wait_until(
        lambda: count(customers, inbox, inbox.c.event_id == known["id"]) == 1,
        what="the event after it to apply",
    )
    assert dead_letter_rows(customers) == [] and retry_rows(customers) == []
    assert count(customers, inbox, inbox.c.event_id == newer["id"]) == 0, "not handled"
    worker = customers.worker
    assert worker is not None and worker.processor is not None
    assert worker.processor.counts[Outcome.IGNORED] == 1
    customers.stop_worker()  # whatever it had not acked would now be back in the queue
    with Connection(amqp_url) as conn:
        queue = customers.topology.queue("customers")(conn.default_channel)
        assert queue.queue_declare(passive=True).message_count == 0


def test_a_handler_written_for_another_version_is_not_given_this_one(service_factory):
    customers = service_factory("customers", broker="memory://")
    seen: list[int] = []
    processor = EventProcessor(
        customers.db,
        {"billing.company.updated": handles_versions(2)(lambda _uow, e: seen.append(e.version))},
    )

    assert processor.process(body_of(company_event())) is Outcome.IGNORED
    assert seen == [] and dead_letter_rows(customers) == []
