"""A customer's language (issue 17): `en` or `el`, the company profile's language when the
customer is created (`en` before billing published a profile), carried in its events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.messaging.consumer import EventProcessor, Outcome
from tests.support.events import body_of, company_event


@pytest.fixture
def customers(service_factory: Any) -> Any:
    return service_factory("customers")


def create(customers: Any, **fields: Any) -> dict[str, Any]:
    answer = customers.client("clerk").post("/customers", json={"name": "Acme", **fields})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def company_says(customers: Any, sequence: int, language: str) -> None:
    processor = EventProcessor(customers.db, customers.definition.handlers)
    sent = body_of(company_event(sequence, language=language))
    assert processor.process(sent) is Outcome.APPLIED


def test_before_any_company_profile_a_new_customer_writes_english(customers):
    assert create(customers)["language"] == "en"


def test_a_new_customer_takes_the_company_profiles_language(customers):
    company_says(customers, 1, "el")

    customer = create(customers)

    assert customer["language"] == "el"
    created = [r for r in customers.outbox() if r.event_type == "customers.customer.created"]
    assert json.loads(created[-1].payload)["data"]["language"] == "el"


def test_an_older_profile_arriving_late_changes_nothing(customers):
    company_says(customers, 2, "el")
    company_says(customers, 1, "en")

    assert create(customers)["language"] == "el"


def test_the_language_can_be_given_and_changed(customers):
    company_says(customers, 1, "el")
    customer = create(customers, language="en")
    assert customer["language"] == "en"

    answer = customers.client("clerk").patch(
        f"/customers/{customer['id']}", json={"language": "el"}
    )

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["language"] == "el"


def test_a_language_other_than_en_or_el_is_422(customers):
    answer = customers.client("clerk").post("/customers", json={"name": "Acme", "language": "de"})

    assert answer.status_code == 422
    assert "language" in answer.get_json()["errors"]
