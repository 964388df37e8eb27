"""No 500 for any input (issue 16): hostile numbers, bodies, cursors, dates and ids are
answered 400, 404, 415 or 422, naming the field where there is one, and write nothing."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

import pytest

from services.customers.models import Customer
from shared.clock import today
from tests.services.test_billing_support import Billing, new_id
from tests.support.harness import ServiceUnderTest, SignedClient

SOME_ID = str(uuid.uuid4())
JSON = {"Content-Type": "application/json"}


def problem(answer: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.get_data(as_text=True)[:500]
    assert answer.mimetype == "application/problem+json"
    body = json.loads(answer.get_data(as_text=True))
    if field is not None:
        assert field in body.get("errors", {}), body
    return dict(body)


@pytest.fixture
def customers(service_factory: Any) -> ServiceUnderTest:
    return service_factory("customers", broker="memory://")


@pytest.fixture
def clerk(customers: ServiceUnderTest) -> SignedClient:
    return customers.client(role="clerk")


# -- numbers ----------------------------------------------------------------------------------

NOT_DECIMALS = ["1E+999999999", "1e2", "1_0", "١٠", " 10", "10.", ".5", "+5", "0x10", "Infinity"]


@pytest.mark.parametrize("value", NOT_DECIMALS)
def test_a_decimal_must_be_plain_digits(clerk, customers, value):
    answer = clerk.post("/customers", json={"name": "Acme", "credit_limit": value})

    problem(answer, 422, "credit_limit")
    assert customers.rows(Customer.__table__) == []


def test_json_numbers_in_exponent_form_are_422_not_rounded(clerk):
    raw = '{"name": "Acme", "credit_limit": 1E+999999999}'
    problem(clerk.post("/customers", data=raw, headers=JSON), 422, "credit_limit")
    raw = '{"name": "Acme", "credit_limit": 12.50}'
    assert clerk.post("/customers", data=raw, headers=JSON).get_json()["credit_limit"] == "12.50"


def test_amounts_of_10_to_the_15_minor_units_are_422_on_the_field(clerk):
    problem(
        clerk.post("/customers", json={"name": "A", "credit_limit": "10000000000000.00"}),
        422,
        "credit_limit",
    )
    problem(
        clerk.post("/customers", json={"name": "A", "currency": "JPY", "credit_limit": 10**15}),
        422,
        "credit_limit",
    )
    answer = clerk.post("/customers", json={"name": "A", "credit_limit": "9999999999999.99"})
    assert answer.status_code == 201, answer.get_json()


def test_an_integer_of_5000_digits_is_422_not_500(clerk, customers):
    raw = '{"name": "Acme", "credit_limit": ' + "9" * 5000 + "}"

    problem(clerk.post("/customers", data=raw, headers=JSON), 422, "credit_limit")
    assert customers.rows(Customer.__table__) == []


# -- bodies -----------------------------------------------------------------------------------


def test_json_nested_900_deep_is_400(service_factory):
    contracts = service_factory("contracts", broker="memory://")
    raw = '{"customer_id": "' + SOME_ID + '", "lines": ' + "[" * 900 + "]" * 900 + "}"

    problem(contracts.client("viewer").post("/quotes", data=raw, headers=JSON), 400)


def test_a_lone_surrogate_is_422_naming_the_field(clerk, customers):
    problem(clerk.post("/customers", data='{"name": "x\\ud800"}', headers=JSON), 422, "name")
    problem(clerk.post("/customers", data='{"name": "x", "\\udfff": 1}', headers=JSON), 422)
    assert customers.rows(Customer.__table__) == []


def test_a_body_that_is_not_json_is_415_naming_the_type(clerk, customers):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        answer = clerk.post("/customers", data='{"name": "Acme"}', headers=headers)
        assert "application/json" in problem(answer, 415)["detail"]
    assert customers.rows(Customer.__table__) == []
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        answer = clerk.post(
            "/customers", data='{"name": "Acme"}', headers={"Content-Type": content_type}
        )
        assert answer.status_code == 201, answer.get_json()


def test_body_less_actions_need_no_content_type(clerk):
    customer = clerk.post("/customers", json={"name": "Acme"}).get_json()

    answer = clerk.post(f"/customers/{customer['id']}/archive")

    assert answer.status_code == 200, answer.get_json()


# -- query strings ----------------------------------------------------------------------------


def test_an_unknown_query_parameter_is_422_naming_it(clerk):
    customer = clerk.post("/customers", json={"name": "Acme"}).get_json()
    for path in ("/customers?colour=red", f"/customers/{customer['id']}?colour=red"):
        problem(clerk.get(path), 422, "colour")
    problem(clerk.post("/customers?colour=red", json={"name": "B"}), 422, "colour")
    assert clerk.get("/customers?q=acme&limit=5&format=json").status_code == 200


def test_a_cursor_nested_3000_deep_is_422_on_cursor(clerk):
    nested = ("[" * 3000 + "]" * 3000).encode()
    cursor = base64.urlsafe_b64encode(nested).decode().rstrip("=")

    problem(clerk.get(f"/customers?cursor={cursor}"), 422, "cursor")


# -- billing: storage limits and dates ----------------------------------------------------------


def test_an_invoice_whose_total_storage_cannot_hold_is_422(billing: Billing):
    customer = billing.customer()
    line = {"sku": "WIDGET", "quantity": "1000000000", "unit_price": "999999999999"}

    answer = billing.post_invoice(customer, [line])

    assert problem(answer, 422)["errors"], answer.get_json()
    assert billing.events() == []


@pytest.mark.parametrize(
    ("issue_date", "terms"),
    [("9999-12-31", "net_30"), ("0001-01-01", "net_30"), ("2999-12-31", "net_30")],
)
def test_business_dates_outside_1900_to_2999_are_422_on_issue_date(billing, issue_date, terms):
    customer = billing.customer(payment_terms=terms)

    line = {"sku": "WIDGET", "quantity": "1"}

    answer = billing.post_invoice(customer, [line], issue_date=issue_date)

    problem(answer, 422, "issue_date")
    assert billing.events() == []


def test_a_draft_whose_due_date_would_overflow_is_422_when_issued(billing: Billing):
    customer = billing.customer(payment_terms="net_30")
    draft = billing.invoice(customer, issue_date=dt.date(2999, 10, 1), draft=True)
    billing.customer_updated(customer, payment_terms="eom_365")

    problem(billing.client().post(f"/invoices/{draft['id']}/issue"), 422, "issue_date")


def test_payment_dates_are_bounded(service_factory):
    payments = service_factory("payments", broker="memory://")
    body = {
        "customer_id": new_id(),
        "amount": "10.00",
        "currency": "EUR",
        "method": "cash",
        "received_on": "9999-01-01",
    }
    problem(payments.client("clerk").post("/payments", json=body), 422, "received_on")


def test_aging_as_of_year_1_is_422(service_factory):
    reporting = service_factory("reporting", broker="memory://")

    answer = reporting.client("viewer").get("/reports/aging?as_of=0001-01-01")

    problem(answer, 422, "as_of")


def test_replaying_dead_letter_2_to_the_63_is_404(billing: Billing):
    problem(billing.client("admin").post("/admin/dead-letters/9223372036854775808/replay"), 404)


# -- jobs: as_of in the future and dry runs ----------------------------------------------------


def test_the_overdue_job_refuses_a_future_as_of_unless_dry_run(billing: Billing):
    customer = billing.customer()
    billing.invoice(customer, issue_date=dt.date(2026, 1, 1))
    admin = billing.client("admin")
    future = (today() + dt.timedelta(days=1)).isoformat()
    mark = billing.mark()

    problem(admin.post("/jobs/overdue", json={"as_of": future}), 422, "as_of")
    dry = admin.post("/jobs/overdue?dry_run=true", json={"as_of": "9999-12-31"})
    problem(dry, 422, "as_of")  # outside the business dates even for a dry run
    dry = admin.post("/jobs/overdue?dry_run=true", json={"as_of": future})
    in_body = admin.post("/jobs/overdue", json={"as_of": future, "dry_run": True})

    assert dry.status_code == in_body.status_code == 200, dry.get_json()
    assert len(dry.get_json()["reported"]) == 1 and dry.get_json()["dry_run"] is True
    assert in_body.get_json()["reported"] == dry.get_json()["reported"]
    assert billing.events(after=mark) == [], "a dry run changes nothing"
    real = admin.post("/jobs/overdue", json={})
    assert real.get_json()["reported"] == dry.get_json()["reported"]
    assert real.get_json()["dry_run"] is False
    problem(admin.post("/jobs/overdue?dry_rn=true", json={}), 422, "dry_rn")


def test_a_reminder_run_refuses_a_future_as_of_unless_dry_run(service_factory):
    from tests.services.notifier_support import Notifier

    notifier = Notifier(service_factory("notifier", broker="memory://"))
    customer = notifier.customer(email="ap@acme.test")
    notifier.invoice(customer, "100.00", due_date=dt.date(2026, 1, 1))
    admin = notifier.client()
    future = (today() + dt.timedelta(days=400)).isoformat()
    before = len(notifier.rows())

    problem(admin.post("/reminders/run", json={"as_of": future}), 422, "as_of")
    dry = admin.post(f"/reminders/run?dry_run=true&as_of={future}")
    problem(dry, 422, "as_of")  # as_of goes in the body; the query takes only dry_run
    dry = admin.post("/reminders/run?dry_run=true", json={"as_of": future})

    assert dry.status_code == 200, dry.get_json()
    assert dry.get_json()["dry_run"] is True
    assert [n["kind"] for n in dry.get_json()["sent"]] == ["reminder"]
    assert len(notifier.rows()) == before, "a dry run queues nothing"
    assert notifier.events("notifier.notification.sent") == []
    assert admin.post("/reminders/run?dry_run=true").status_code == 200  # no body at all
    problem(admin.post("/reminders/run?dryrun=true", json={}), 422, "dryrun")
