"""GET /notifications: every notification and its delivery, newest first, filtered by
customer, invoice, kind and status, in pages."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest

from tests.services.notifier_support import Notifier, SmtpServer, new_id, smtp_server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def story(service_factory, smtp: SmtpServer) -> dict[str, Any]:
    """Acme (with email) and Bolt (without): invoices, a receipt, a partial notice, two
    reminders (Bolt's failed for want of an address), and one invoice email still queued.

    ==========  =======================  ========  =======
    customer    kind                     invoice   status
    ==========  =======================  ========  =======
    acme        invoice_issued           a1        sent
    acme        invoice_issued           a2        sent
    bolt        invoice_issued           b1        failed
    acme        payment_receipt          a1        sent
    acme        partial_payment          a2        sent
    acme        reminder (level 1)       a2        sent
    bolt        reminder (level 1)       b1        failed
    acme        invoice_issued           a3        queued
    ==========  =======================  ========  =======
    """
    notifier = Notifier(service_factory("notifier", TAMEIO_SMTP_URL=smtp.url))
    acme = notifier.customer(email="ap@acme.test")
    bolt = notifier.customer(email=None, name="Bolt")
    a1 = notifier.invoice(acme, "100.00")
    a2 = notifier.invoice(acme, "200.00")
    b1 = notifier.invoice(bolt, "50.00", bill_to_email=None)
    notifier.payment_applied(acme, [(a1, "100.00")])
    notifier.payment_applied(acme, [(a2, "20.00")])
    notifier.deliver()
    notifier.run(dt.date(2026, 3, 2))
    a3 = notifier.invoice(acme, "300.00")
    return {
        "notifier": notifier,
        "acme": acme,
        "bolt": bolt,
        "a1": a1,
        "a2": a2,
        "b1": b1,
        "a3": a3,
    }


def test_all_notifications_are_listed_newest_first(story):
    items = story["notifier"].notifications()

    assert len(items) == 8
    created = [item["created_at"] for item in items]
    assert created == sorted(created, reverse=True)
    assert items[0]["invoice_id"] == story["a3"]["id"]
    assert {item["channel"] for item in items} == {"email"}


def test_notifications_filter_by_customer(story):
    notifier = story["notifier"]

    acme = notifier.notifications(customer_id=story["acme"]["id"])
    bolt = notifier.notifications(customer_id=story["bolt"]["id"])

    assert len(acme) == 6
    assert {item["customer_id"] for item in acme} == {story["acme"]["id"]}
    assert sorted(item["kind"] for item in bolt) == ["invoice_issued", "reminder"]
    assert notifier.notifications(customer_id=new_id()) == []


def test_notifications_filter_by_invoice(story):
    notifier = story["notifier"]

    about_a2 = notifier.notifications(invoice_id=story["a2"]["id"])

    assert sorted(item["kind"] for item in about_a2) == [
        "invoice_issued",
        "partial_payment",
        "reminder",
    ]
    assert {item["invoice_id"] for item in about_a2} == {story["a2"]["id"]}


def test_notifications_filter_by_kind(story):
    notifier = story["notifier"]

    reminders = notifier.notifications(kind="reminder")
    receipts = notifier.notifications(kind="payment_receipt")

    assert sorted(item["invoice_id"] for item in reminders) == sorted(
        [story["a2"]["id"], story["b1"]["id"]]
    )
    assert {item["level"] for item in reminders} == {1}  # levels start at 1 (CONTRACT round 2)
    assert [item["invoice_id"] for item in receipts] == [story["a1"]["id"]]
    assert len(notifier.notifications(kind="invoice_issued")) == 4
    assert len(notifier.notifications(kind="partial_payment")) == 1


def test_notifications_filter_by_status(story):
    notifier = story["notifier"]

    failed = notifier.notifications(status="failed")
    queued = notifier.notifications(status="queued")

    assert {item["customer_id"] for item in failed} == {story["bolt"]["id"]}
    assert len(failed) == 2
    assert all(item["error"] == "the customer has no email address" for item in failed)
    assert [item["invoice_id"] for item in queued] == [story["a3"]["id"]]
    assert len(notifier.notifications(status="sent")) == 5
    assert notifier.notifications(status="sending") == []


def test_notification_filters_combine(story):
    notifier = story["notifier"]

    (item,) = notifier.notifications(customer_id=story["bolt"]["id"], kind="invoice_issued")

    assert item["invoice_id"] == story["b1"]["id"]
    assert item["status"] == "failed"
    assert notifier.notifications(customer_id=story["bolt"]["id"], status="sent") == []


def test_notifications_come_in_pages_each_exactly_once(story):
    client = story["notifier"].client("viewer")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        answer = client.get("/notifications", query_string=query)
        assert answer.status_code == 200, answer.get_json()
        page = answer.get_json()
        assert len(page["items"]) <= 3
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert seen == [item["id"] for item in story["notifier"].notifications()]
    assert len(set(seen)) == 8


def test_a_page_of_a_filtered_list_keeps_the_filter(story):
    client = story["notifier"].client("viewer")

    first = client.get("/notifications", query_string={"kind": "invoice_issued", "limit": 3})
    rest = client.get(
        "/notifications",
        query_string={
            "kind": "invoice_issued",
            "limit": 3,
            "cursor": first.get_json()["next_cursor"],
        },
    )

    items = first.get_json()["items"] + rest.get_json()["items"]
    assert [item["kind"] for item in items] == ["invoice_issued"] * 4
    assert rest.get_json()["next_cursor"] is None


def test_notifications_export_as_csv(story):
    answer = (
        story["notifier"].client("viewer").get("/notifications", query_string={"format": "csv"})
    )

    assert answer.status_code == 200
    assert answer.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.get_data().decode("utf-8-sig"))))
    assert len(rows) == 8
    assert {row["kind"] for row in rows} == {
        "invoice_issued",
        "payment_receipt",
        "partial_payment",
        "reminder",
    }


@pytest.mark.parametrize(
    "query",
    [
        {"kind": "sms"},
        {"status": "delivered"},
        {"customer_id": "not-an-id"},
        {"invoice_id": "42"},
        {"limit": 501},
        {"limit": 0},
    ],
    ids=["unknown-kind", "unknown-status", "bad-customer-id", "bad-invoice-id", "limit-high", "0"],
)
def test_invalid_notification_filters_are_422(service_factory, query):
    notifier = Notifier(service_factory("notifier", TAMEIO_SMTP_URL="smtp://127.0.0.1:25"))

    answer = notifier.client("viewer").get("/notifications", query_string=query)

    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"


def test_notifications_need_an_identity(service_factory):
    notifier = service_factory("notifier", TAMEIO_SMTP_URL="smtp://127.0.0.1:25")

    answer = notifier.app.test_client().get("/notifications")

    assert answer.status_code == 401
