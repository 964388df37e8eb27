"""The invoice PDF shows what the customer needs to pay it."""

from __future__ import annotations

import io
import uuid

import pypdf

from shared.messaging.consumer import EventProcessor
from tests.support.events import body_of, customer_data, envelope


def test_the_invoice_pdf_shows_bill_to_lines_tax_note_totals_and_amount_due(service_factory):
    billing = service_factory("billing")
    feed = EventProcessor(billing.db, billing.definition.handlers)
    customer_id = str(uuid.uuid4())
    address = {
        "line1": "Odos Ermou 12",
        "line2": None,
        "city": "Αθήνα",
        "postal_code": "10563",
        "region": None,
        "country": "GR",
    }
    customer = customer_data(
        customer_id, name="Ξενοδοχείο Ερμής", tax_id="EL123456789", billing_address=address
    )
    feed.process(body_of(envelope("customers.customer.created", customer_id, 1, customer)))
    item = {
        "sku": "ROOM",
        "name": "Room night",
        "unit_price": "80.00",
        "currency": "EUR",
        "tax_code": "reduced",
    }
    feed.process(body_of(envelope("contracts.item.created", "ROOM", 1, item, source="contracts")))
    contract = {
        "id": str(uuid.uuid4()),
        "customer_id": customer_id,
        "name": "Export",
        "valid_from": "2026-01-01",
        "valid_to": None,
        "discount_percent": "0",
        "status": "active",
        "prices": [],
        "tax_treatment": {
            "type": "reverse_charge",
            "rate": None,
            "note": "Reverse charge, art. 196",
        },
    }
    feed.process(
        body_of(
            envelope(
                "contracts.contract.activated", contract["id"], 1, contract, source="contracts"
            )
        )
    )
    clerk = billing.client(role="clerk")
    invoice = clerk.post(
        "/invoices",
        json={
            "customer_id": customer_id,
            "issue_date": "2026-03-02",
            "lines": [{"sku": "ROOM", "quantity": 3}],
        },
    ).get_json()

    answer = billing.client(role="viewer").get(f"/invoices/{invoice['id']}/pdf")

    assert answer.status_code == 200
    assert answer.content_type == "application/pdf"
    assert answer.data.startswith(b"%PDF")
    text = pypdf.PdfReader(io.BytesIO(answer.data)).pages[0].extract_text()
    for expected in (
        invoice["number"],
        "Ξενοδοχείο Ερμής",
        "Odos Ermou 12",
        "10563 Αθήνα",
        "EL123456789",
        "Room night",
        "Reverse charge, art. 196",
        "240.00",
        "Amount due 240.00 EUR",
    ):
        assert expected in text, expected


def test_the_pdf_of_an_unknown_invoice_is_a_404_problem(service_factory):
    billing = service_factory("billing")
    answer = billing.client().get(f"/invoices/{uuid.uuid4()}/pdf")
    assert answer.status_code == 404
    assert answer.content_type == "application/problem+json"
