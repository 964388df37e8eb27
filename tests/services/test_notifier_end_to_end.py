"""Customers and notifier with their workers on RabbitMQ: an email notifier's delivery loop
sends shows up in the customer's communication history."""

from __future__ import annotations

from typing import Any

from tests.services.notifier_support import SENT, Notifier, smtp_server
from tests.support.harness import wait_until


def notifier_entries(customers: Any, customer_id: str) -> list[dict[str, Any]]:
    answer = customers.client(role="viewer").get(f"/customers/{customer_id}/interactions")
    assert answer.status_code == 200, answer.get_json()
    return [item for item in answer.get_json()["items"] if item["source"] == "notifier"]


def test_a_sent_invoice_email_joins_the_customers_communication_history(service_factory):
    with smtp_server() as smtp:
        customers = service_factory("customers")
        notifier = Notifier(service_factory("notifier", TAMEIO_SMTP_URL=smtp.url))
        customers.start_worker()
        notifier.sut.start_worker()
        created = customers.client(role="clerk").post(
            "/customers", json={"name": "Acme Ltd", "email": "ap@acme.test"}
        )
        assert created.status_code == 201, created.get_json()
        customer = created.get_json()
        notifier.customer(
            customer_id=customer["id"], number=customer["number"], email="ap@acme.test"
        )

        invoice = notifier.invoice(customer, "480.00", bill_to_email=None)

        (mail,) = smtp.wait_for(1, timeout=15)
        (entry,) = wait_until(
            lambda: notifier_entries(customers, customer["id"]),
            timeout=20,
            what="notifier's interaction in the customer's history",
        )
    (notification,) = notifier.notifications()
    assert notification["status"] == "sent"
    assert mail.rcpt_tos == ["ap@acme.test"]
    assert entry["subject"] == notification["subject"] == mail.message["Subject"]
    assert entry["invoice_id"] == invoice["id"]
    assert entry["channel"] == "email"
    assert entry["direction"] == "outbound"
    assert entry["author"] == "notifier"
    assert invoice["number"] in entry["body"]
    (event,) = notifier.events(SENT)
    assert event["data"]["id"] == notification["id"]
    assert wait_until(lambda: all(row.published_at for row in notifier.sut.outbox()))
