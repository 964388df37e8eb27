"""What customers learns from other services: deliveries join the communication history,
documents fix the customer's currency."""

from __future__ import annotations

import uuid
from typing import Any

from services.customers.models import Interaction
from shared.clock import utcnow
from shared.messaging.consumer import EventProcessor, Outcome
from tests.support.events import body_of, envelope, publish_raw
from tests.support.harness import wait_until


def notification(customer_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "kind": "partial_payment",
        "level": None,
        "channel": "email",
        "to": "ap@acme.test",
        "subject": "Payment received for INV-2026-000007, 40.00 EUR still due",
        "body": "Thank you for your payment of 60.00 EUR.",
        "status": "sent",
        "invoice_id": str(uuid.uuid4()),
        "customer_id": customer_id,
        "payment_id": None,
        "created_at": utcnow(),
        "sent_at": utcnow(),
        "error": None,
        "attempts": 1,
        **changes,
    }


def notifier_event(event_type: str, data: dict[str, Any]) -> str:
    return body_of(envelope(event_type, data["id"], 1, data, source="notifier"))


def create_customer(customers, **fields: Any) -> dict[str, Any]:
    answer = customers.client(role="clerk").post("/customers", json={"name": "Acme", **fields})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def history(customers, customer_id: str) -> list[dict[str, Any]]:
    answer = customers.client(role="viewer").get(f"/customers/{customer_id}/interactions")
    assert answer.status_code == 200
    return answer.get_json()["items"]


def test_a_sent_notification_arrives_over_the_broker_and_joins_the_history(service_factory):
    customers = service_factory("customers", with_worker=True)
    customer = create_customer(customers)
    sent = notification(customer["id"])

    publish_raw(
        customers, notifier_event("notifier.notification.sent", sent), "notifier.notification.sent"
    )

    (logged,) = wait_until(lambda: history(customers, customer["id"]), what="the interaction")
    assert logged["source"] == "notifier"
    assert logged["author"] == "notifier"
    assert logged["channel"] == "email"
    assert logged["direction"] == "outbound"
    assert logged["subject"] == sent["subject"]
    assert logged["invoice_id"] == sent["invoice_id"]
    events = [row.event_type for row in customers.outbox()]
    assert events.count("customers.interaction.logged") == 1


def test_a_failed_notification_is_logged_with_its_error(service_factory):
    customers = service_factory("customers")
    customer = create_customer(customers)
    processor = EventProcessor(customers.db, customers.definition.handlers)
    failed = notification(
        customer["id"], status="failed", error="550 mailbox unavailable", sent_at=None
    )

    assert (
        processor.process(notifier_event("notifier.notification.failed", failed)) is Outcome.APPLIED
    )

    (logged,) = history(customers, customer["id"])
    assert logged["body"].startswith("Delivery failed: 550 mailbox unavailable")


def test_a_notification_is_logged_once_however_often_it_is_reported(service_factory):
    customers = service_factory("customers")
    customer = create_customer(customers)
    processor = EventProcessor(customers.db, customers.definition.handlers)
    sent = notification(customer["id"])
    first = notifier_event("notifier.notification.sent", sent)

    assert processor.process(first) is Outcome.APPLIED
    assert processor.process(first) is Outcome.DUPLICATE  # redelivered
    assert processor.process(notifier_event("notifier.notification.sent", sent)) is Outcome.APPLIED

    assert len(history(customers, customer["id"])) == 1, "a second report of it logs nothing"
    assert len(customers.rows(Interaction.__table__)) == 1


def test_sent_then_failed_are_two_entries_newest_first(service_factory):
    customers = service_factory("customers")
    customer = create_customer(customers)
    processor = EventProcessor(customers.db, customers.definition.handlers)
    sent = notification(customer["id"], sent_at=utcnow())
    processor.process(notifier_event("notifier.notification.sent", sent))
    later = notification(
        customer["id"], status="failed", error="timeout", sent_at=None, created_at=utcnow()
    )
    processor.process(notifier_event("notifier.notification.failed", later))

    entries = history(customers, customer["id"])
    assert [entry["body"].startswith("Delivery failed") for entry in entries] == [True, False]


def test_a_notification_about_an_unknown_customer_is_parked(service_factory):
    customers = service_factory("customers")
    processor = EventProcessor(customers.db, customers.definition.handlers)

    outcome = processor.process(
        notifier_event("notifier.notification.sent", notification(str(uuid.uuid4())))
    )

    assert outcome is Outcome.PARKED
    (letter,) = customers.client().get("/admin/dead-letters").get_json()["items"]
    assert "unknown customer" in letter["error"]


def test_currency_is_fixed_once_the_customer_has_a_document(service_factory):
    customers = service_factory("customers")
    clerk = customers.client(role="clerk")
    customer = create_customer(customers)
    assert clerk.patch(f"/customers/{customer['id']}", json={"currency": "USD"}).status_code == 200

    processor = EventProcessor(customers.db, customers.definition.handlers)
    payment = {"customer_id": customer["id"], "id": str(uuid.uuid4())}
    received = envelope("payments.payment.received", payment["id"], 1, payment, source="payments")
    # Handlers read only customer_id, but the catalog validates the whole payment first.
    received["data"] |= {
        "number": "P-000001",
        "amount": "10.00",
        "currency": "USD",
        "method": "cash",
        "reference": None,
        "received_on": "2026-11-27",
        "date": "2026-11-27",
        "allocations": [],
        "invoice_id": None,
        "status": "received",
    }
    assert processor.process(body_of(received)) is Outcome.APPLIED

    refused = clerk.patch(f"/customers/{customer['id']}", json={"currency": "EUR"})
    assert refused.status_code == 409
    assert "currency" in refused.get_json()["detail"]
    assert clerk.get(f"/customers/{customer['id']}").get_json()["currency"] == "USD"
    assert clerk.patch(f"/customers/{customer['id']}", json={"notes": "ok"}).status_code == 200
