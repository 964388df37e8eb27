"""Contracts: creation rules, activation without overlaps, termination, quotes priced by a
contract, archived customers.

Given customers fed in as events and items in the catalog, when contracts are created,
activated and terminated, then these answers, rows, quotes and outbox events.
"""

from __future__ import annotations

import uuid
from typing import Any

from services.contracts.models import Contract, customer_replica
from shared.messaging.consumer import EventProcessor, Outcome
from tests.services.test_billing_support import owners_know_nothing
from tests.services.test_contracts_api import (
    activate,
    active_contract,
    add_customer,
    add_item,
    ask_quote,
    assert_invalid,
    create_contract,
    not_refused,
    priced,
    published,
)
from tests.support.events import UPDATED, body_of, customer_data, envelope
from tests.support.harness import wait_until

ARCHIVED = "customers.customer.archived"


def terminate(contracts: Any, contract_id: str, effective: Any) -> Any:
    return contracts.client().post(
        f"/contracts/{contract_id}/terminate", json={"effective": effective}
    )


def archived_event(customer_id: str, on: str = "2026-05-10") -> str:
    data = {"customer_id": customer_id, "customer": customer_data(customer_id, status="archived")}
    return body_of(envelope(ARCHIVED, customer_id, 2, data, occurred_at=f"{on}T12:00:00Z"))


def contract_rows(contracts: Any) -> dict[str, Any]:
    return {str(row.id): row for row in contracts.rows(Contract.__table__)}


# -- creating -------------------------------------------------------------------------------


def test_a_new_contract_is_a_draft_in_the_customers_currency(service_factory):
    contracts = service_factory("contracts")
    customer = add_customer(contracts, currency="USD")
    add_item(contracts, "W", "10.00", currency="EUR")

    contract = create_contract(
        contracts,
        customer,
        valid_to="2026-12-31",
        discount_percent="2.5",
        tax_treatment={"type": "exempt", "note": "Exempt export"},
        prices=[{"sku": "W", "unit_price": "9"}],
    )

    assert contract["status"] == "draft"
    assert contract["currency"] == "USD"
    assert (contract["valid_from"], contract["valid_to"]) == ("2026-01-01", "2026-12-31")
    assert contract["discount_percent"] == "2.50"
    assert contract["tax_treatment"] == {"type": "exempt", "rate": None, "note": "Exempt export"}
    assert contract["prices"] == [{"sku": "W", "unit_price": "9.00"}]
    assert (
        contracts.client(role="viewer").get(f"/contracts/{contract['id']}").get_json() == contract
    )
    assert contract_rows(contracts)[contract["id"]].status == "draft"
    assert published(contracts, "contracts.contract.activated") == [], "a draft is not published"


def test_a_contract_without_a_discount_has_none(service_factory):
    contracts = service_factory("contracts")
    customer = add_customer(contracts)
    body = {"customer_id": customer, "name": "Plain", "valid_from": "2026-01-01"}

    answer = contracts.client().post("/contracts", json=body)

    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["discount_percent"] == "0.00"
    assert answer.get_json()["tax_treatment"]["type"] == "standard"


def test_only_an_admin_creates_contracts(service_factory):
    contracts = service_factory("contracts")
    customer = add_customer(contracts)
    body = {"customer_id": customer, "name": "X", "valid_from": "2026-01-01"}

    assert contracts.client(role="clerk").post("/contracts", json=body).status_code == 403
    assert contract_rows(contracts) == {}


def test_a_contract_for_an_unknown_customer_is_422(service_factory):
    contracts = service_factory("contracts")
    body = {"customer_id": str(uuid.uuid4()), "name": "X", "valid_from": "2026-01-01"}

    with owners_know_nothing():  # asked on the replica miss, customers knows none
        assert_invalid(contracts.client().post("/contracts", json=body), "customer_id")
    assert contract_rows(contracts) == {}


def test_a_contract_for_an_archived_customer_is_409(service_factory):
    contracts = service_factory("contracts")
    customer = add_customer(contracts, status="archived")
    body = {"customer_id": customer, "name": "X", "valid_from": "2026-01-01", "discount_percent": 0}

    answer = contracts.client().post("/contracts", json=body)

    assert answer.status_code == 409
    assert answer.mimetype == "application/problem+json"
    assert contract_rows(contracts) == {}


def test_an_invalid_contract_is_422_naming_the_field(service_factory):
    contracts = service_factory("contracts")
    customer = add_customer(contracts)
    add_item(contracts, "W")
    body = {"customer_id": customer, "name": "X", "valid_from": "2026-01-01", "discount_percent": 0}
    price = {"sku": "W", "unit_price": "1"}
    cases = [
        ({"valid_to": "2025-12-31"}, "valid_to"),  # before valid_from
        ({"valid_from": "2026-02-30"}, "valid_from"),
        ({"discount_percent": "101"}, "discount_percent"),
        ({"discount_percent": "-1"}, "discount_percent"),
        ({"discount_percent": "1.005"}, "discount_percent"),
        ({"tax_treatment": {"type": "custom_rate"}}, "tax_treatment.rate"),
        ({"tax_treatment": {"type": "custom_rate", "rate": "101"}}, "tax_treatment.rate"),
        ({"tax_treatment": {"type": "exempt", "rate": "5"}}, "tax_treatment.rate"),
        ({"tax_treatment": {"type": "standard", "rate": "5"}}, "tax_treatment.rate"),
        ({"tax_treatment": {"type": "zero_rated"}}, "tax_treatment.type"),
        ({"prices": [price, {"sku": "NOPE", "unit_price": "1"}]}, "prices.1.sku"),
        ({"prices": [price, price | {"unit_price": "2"}]}, "prices"),  # a sku twice
        ({"prices": [price | {"unit_price": "-1"}]}, "prices.0.unit_price"),
    ]

    send = contracts.client().post
    assert not_refused(lambda changes: send("/contracts", json=body | changes), cases) == []
    assert contract_rows(contracts) == {}


def test_a_blank_contract_name_is_422(service_factory):
    contracts = service_factory("contracts")
    body = {"customer_id": add_customer(contracts), "name": "  ", "valid_from": "2026-01-01"}

    assert_invalid(
        contracts.client().post("/contracts", json=body | {"discount_percent": 0}), "name"
    )
    assert contract_rows(contracts) == {}


# -- activating -----------------------------------------------------------------------------


def test_activating_a_draft_makes_it_active_and_publishes_the_whole_contract(service_factory):
    contracts = service_factory("contracts")
    customer = add_customer(contracts)
    add_item(contracts, "W")
    draft = create_contract(contracts, customer, prices=[{"sku": "W", "unit_price": "80"}])

    answer = activate(contracts, draft["id"])

    assert answer.status_code == 200, answer.get_json()
    contract = answer.get_json()
    assert contract["status"] == "active"
    assert contract["activated_at"] is not None
    assert contract == contracts.client(role="viewer").get(f"/contracts/{draft['id']}").get_json()
    (event,) = published(contracts, "contracts.contract.activated")
    assert event["subject"] == draft["id"]
    assert event["data"] == contract
    assert event["data"]["prices"] == [{"sku": "W", "unit_price": "80.00"}]


def test_activating_twice_is_409(service_factory):
    contracts = service_factory("contracts")
    contract = active_contract(contracts, add_customer(contracts))

    again = activate(contracts, contract["id"])

    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"
    assert len(published(contracts, "contracts.contract.activated")) == 1


OVERLAPS = [
    # (first valid_from, first valid_to), (second valid_from, second valid_to), overlap?
    (("2026-01-01", "2026-06-30"), ("2026-03-01", "2026-09-30"), True),
    (("2026-01-01", "2026-06-30"), ("2026-06-30", "2026-12-31"), True),  # touches the last day
    (("2026-01-01", "2026-06-30"), ("2025-07-01", "2026-01-01"), True),  # touches the first day
    (("2026-01-01", "2026-12-31"), ("2026-03-01", "2026-03-31"), True),  # inside
    (("2026-01-01", None), ("2030-01-01", "2030-12-31"), True),  # first is open-ended
    (("2026-01-01", "2026-06-30"), ("2025-01-01", None), True),  # second is open-ended
    (("2026-01-01", None), ("2027-01-01", None), True),  # both open-ended
    (("2026-01-01", "2026-06-30"), ("2026-07-01", None), False),  # adjacent after
    (("2026-01-01", None), ("2025-01-01", "2025-12-31"), False),  # adjacent before
]


def test_a_customers_active_contracts_never_overlap(service_factory):
    contracts = service_factory("contracts")
    wrong = []
    for first, second, clash in OVERLAPS:  # each case with its own customer
        customer = add_customer(contracts)
        active_contract(contracts, customer, valid_from=first[0], valid_to=first[1])
        other = create_contract(contracts, customer, valid_from=second[0], valid_to=second[1])
        answer = activate(contracts, other["id"])
        if answer.status_code != (409 if clash else 200):
            wrong.append((first, second, answer.status_code, answer.get_json()))

    assert wrong == []
    clashes = sum(clash for _, _, clash in OVERLAPS)
    statuses = [row.status for row in contract_rows(contracts).values()]
    assert statuses.count("draft") == clashes
    assert len(published(contracts, "contracts.contract.activated")) == 2 * len(OVERLAPS) - clashes


def test_contracts_of_different_customers_never_clash(service_factory):
    contracts = service_factory("contracts")
    active_contract(contracts, add_customer(contracts), valid_from="2026-01-01")

    active_contract(contracts, add_customer(contracts), valid_from="2026-01-01")

    assert {row.status for row in contract_rows(contracts).values()} == {"active"}


def test_a_terminated_contract_blocks_only_up_to_its_termination_date(service_factory):
    contracts = service_factory("contracts")
    customer = add_customer(contracts)
    first = active_contract(contracts, customer, valid_from="2026-01-01")
    assert terminate(contracts, first["id"], "2026-03-31").status_code == 200
    on_last_day = create_contract(contracts, customer, valid_from="2026-03-31")
    after = create_contract(contracts, customer, valid_from="2026-04-01")

    assert activate(contracts, on_last_day["id"]).status_code == 409
    assert activate(contracts, after["id"]).status_code == 200


# -- terminating ----------------------------------------------------------------------------


def test_terminating_an_active_contract_publishes_its_end(service_factory):
    contracts = service_factory("contracts")
    contract = active_contract(contracts, add_customer(contracts), valid_to="2026-12-31")

    answer = terminate(contracts, contract["id"], "2026-06-15")

    assert answer.status_code == 200, answer.get_json()
    ended = answer.get_json()
    assert (ended["status"], ended["terminated_on"]) == ("terminated", "2026-06-15")
    assert ended["terminated_at"] is not None
    (event,) = published(contracts, "contracts.contract.terminated")
    assert event["subject"] == contract["id"]
    assert event["data"] == ended
    assert contract_rows(contracts)[contract["id"]].status == "terminated"
    assert terminate(contracts, contract["id"], "2026-06-20").status_code == 409


def test_terminating_a_draft_is_409(service_factory):
    contracts = service_factory("contracts")
    draft = create_contract(contracts, add_customer(contracts))

    answer = terminate(contracts, draft["id"], "2026-06-15")

    assert answer.status_code == 409
    assert contract_rows(contracts)[draft["id"]].status == "draft"
    assert published(contracts, "contracts.contract.terminated") == []


def test_a_termination_date_outside_the_contract_is_422(service_factory):
    contracts = service_factory("contracts")
    contract = active_contract(
        contracts, add_customer(contracts), valid_from="2026-01-01", valid_to="2026-12-31"
    )
    cases = [(day, "effective") for day in ["2025-12-31", "2027-01-01", "not-a-date", None]]

    assert not_refused(lambda day: terminate(contracts, contract["id"], day), cases) == []
    assert contract_rows(contracts)[contract["id"]].status == "active"
    assert published(contracts, "contracts.contract.terminated") == []


# -- reading --------------------------------------------------------------------------------


def test_contracts_are_listed_per_customer(service_factory):
    contracts = service_factory("contracts")
    acme, beta = add_customer(contracts), add_customer(contracts)
    mine = {create_contract(contracts, acme)["id"], active_contract(contracts, acme)["id"]}
    create_contract(contracts, beta)

    answer = contracts.client(role="viewer").get("/contracts", query_string={"customer_id": acme})

    assert answer.status_code == 200
    assert {c["id"] for c in answer.get_json()["items"]} == mine
    assert {c["customer_id"] for c in answer.get_json()["items"]} == {acme}


def test_an_unknown_or_malformed_contract_id_is_404(service_factory):
    contracts = service_factory("contracts")

    for contract_id in [str(uuid.uuid4()), "not-a-uuid"]:
        answer = contracts.client(role="viewer").get(f"/contracts/{contract_id}")
        assert (answer.status_code, answer.mimetype) == (404, "application/problem+json")
        assert activate(contracts, contract_id).status_code == 404
        assert terminate(contracts, contract_id, "2026-01-01").status_code == 404


# -- quotes priced by a contract ------------------------------------------------------------


def test_the_contract_price_and_discount_apply_to_every_line(service_factory):
    contracts = service_factory("contracts")
    customer = add_customer(contracts)
    add_item(contracts, "W", "100.00")
    add_item(contracts, "S", "50.00", tax_code="reduced")
    contract = active_contract(
        contracts, customer, discount_percent="10", prices=[{"sku": "W", "unit_price": "90"}]
    )

    quote = priced(contracts, customer, [{"sku": "W", "quantity": 3}, {"sku": "S", "quantity": 2}])

    assert quote["contract_id"] == contract["id"]
    special, catalog = quote["lines"]
    assert (special["unit_price"], special["discount_percent"]) == ("90.00", "10.00")
    assert (special["net_amount"], special["tax_amount"]) == ("243.00", "58.32")
    assert (catalog["unit_price"], catalog["discount_percent"]) == ("50.00", "10.00")
    assert (catalog["net_amount"], catalog["tax_amount"]) == ("90.00", "11.70")
    assert (quote["subtotal"], quote["tax_total"], quote["total"]) == ("333.00", "70.02", "403.02")


def test_a_manual_unit_price_overrides_the_contract_price_but_keeps_the_discount(service_factory):
    contracts = service_factory("contracts")
    customer = add_customer(contracts)
    add_item(contracts, "W", "100.00")
    active_contract(
        contracts, customer, discount_percent="10", prices=[{"sku": "W", "unit_price": "90"}]
    )

    quote = priced(contracts, customer, [{"sku": "W", "quantity": 1, "unit_price": "80"}])

    (line,) = quote["lines"]
    assert (line["unit_price"], line["discount_percent"]) == ("80.00", "10.00")
    assert (line["net_amount"], line["tax_amount"]) == ("72.00", "17.28")


def test_the_contracts_tax_treatment_sets_each_lines_rate_and_note(service_factory):
    contracts = service_factory("contracts")
    add_item(contracts, "W", "100.00")
    cases = [  # treatment, then the line's tax_rate, tax_amount and tax_note
        ({"type": "exempt", "note": "Exempt, Art. 22"}, ("0.00", "0.00", "Exempt, Art. 22")),
        ({"type": "reverse_charge", "note": "Reverse charge"}, ("0.00", "0.00", "Reverse charge")),
        ({"type": "custom_rate", "rate": "17.5"}, ("17.50", "17.50", None)),
        ({"type": "standard"}, ("24.00", "24.00", None)),
    ]

    quotes = []
    for treatment, _ in cases:  # one customer per treatment
        customer = add_customer(contracts)
        active_contract(contracts, customer, tax_treatment=treatment)
        quotes.append(priced(contracts, customer, [{"sku": "W", "quantity": 1}]))

    lines = [q["lines"][0] for q in quotes]
    taxed = [(line["tax_rate"], line["tax_amount"], line["tax_note"]) for line in lines]
    assert taxed == [expected for _, expected in cases]
    assert [q["tax_total"] for q in quotes] == [tax for _, (_, tax, _) in cases]


def test_contract_prices_never_apply_in_a_currency_the_customer_has_left(service_factory):
    # CONTRACT: contract prices are in the customer's currency. Customers lets the currency
    # change until a document exists; a contract made in EUR must not then price USD lines.
    contracts = service_factory("contracts")
    customer = add_customer(contracts, currency="EUR")
    add_item(contracts, "W", "100.00")
    active_contract(contracts, customer, prices=[{"sku": "W", "unit_price": "90"}])
    now_usd = customer_data(customer, currency="USD", version=2)
    processor = EventProcessor(contracts.db, contracts.definition.handlers)
    assert processor.process(body_of(envelope(UPDATED, customer, 2, now_usd))) is Outcome.APPLIED

    answer = ask_quote(contracts, customer, [{"sku": "W", "quantity": 1}])

    assert_invalid(answer, "lines.0.unit_price")


def test_a_terminated_contract_prices_up_to_and_including_its_termination_date(service_factory):
    contracts = service_factory("contracts")
    customer = add_customer(contracts)
    add_item(contracts, "W", "100.00")
    contract = active_contract(contracts, customer, prices=[{"sku": "W", "unit_price": "70"}])
    assert terminate(contracts, contract["id"], "2026-06-15").status_code == 200
    line = [{"sku": "W", "quantity": 1}]

    on_the_day = priced(contracts, customer, line, day="2026-06-15")
    day_after = priced(contracts, customer, line, day="2026-06-16")

    assert on_the_day["contract_id"] == contract["id"]
    assert on_the_day["lines"][0]["unit_price"] == "70.00"
    assert day_after["contract_id"] is None
    assert day_after["lines"][0]["unit_price"] == "100.00"


# -- archived customers ---------------------------------------------------------------------


def test_archiving_a_customer_ends_its_active_contracts_once(service_factory):
    contracts = service_factory("contracts")
    customer, other = add_customer(contracts), add_customer(contracts)
    current = active_contract(contracts, customer, valid_from="2026-01-01", valid_to="2026-06-30")
    future = active_contract(contracts, customer, valid_from="2026-07-01")
    draft = create_contract(contracts, customer, valid_from="2027-01-01")
    untouched = active_contract(contracts, other)
    processor = EventProcessor(contracts.db, contracts.definition.handlers)
    event = archived_event(customer, on="2026-05-10")

    assert processor.process(event) is Outcome.APPLIED

    rows = contract_rows(contracts)
    assert rows[current["id"]].status == rows[future["id"]].status == "terminated"
    assert str(rows[current["id"]].terminated_on) == "2026-05-10"
    assert rows[future["id"]].terminated_on < rows[future["id"]].valid_from, "never in force"
    assert rows[draft["id"]].status == "draft"
    assert rows[untouched["id"]].status == "active"
    ended = published(contracts, "contracts.contract.terminated")
    assert sorted(e["subject"] for e in ended) == sorted([current["id"], future["id"]])
    assert {e["data"]["terminated_on"] for e in ended} == {"2026-05-10", "2026-06-30"}
    (replica,) = [r for r in contracts.rows(customer_replica) if r.id == customer]
    assert replica.status == "archived"

    outbox_before = len(contracts.outbox())
    assert processor.process(event) is Outcome.DUPLICATE
    assert processor.process(archived_event(customer, on="2026-05-20")) is Outcome.APPLIED
    assert len(contracts.outbox()) == outbox_before
    assert contract_rows(contracts) == rows
    assert activate(contracts, draft["id"]).status_code == 409, "archived: no new contract"


def test_end_to_end_a_customer_from_customers_gets_a_contract_that_ends_when_archived(
    service_factory,
):
    customers = service_factory("customers", with_worker=True)
    contracts = service_factory("contracts", with_worker=True)
    created = customers.client(role="clerk").post(
        "/customers", json={"name": "Acme", "currency": "SEK"}
    )
    assert created.status_code == 201, created.get_json()
    customer = created.get_json()["id"]
    wait_until(
        lambda: any(r.id == customer for r in contracts.rows(customer_replica)),
        what="the customer in contracts' replica",
    )
    add_item(contracts, "W", "100.00", currency="SEK")
    contract = active_contract(contracts, customer, valid_from="2026-01-01")
    assert contract["currency"] == "SEK"
    assert priced(contracts, customer, [{"sku": "W", "quantity": 1}])["currency"] == "SEK"

    assert customers.client(role="clerk").post(f"/customers/{customer}/archive").status_code == 200

    wait_until(
        lambda: contract_rows(contracts)[contract["id"]].status == "terminated",
        what="the contract terminated",
    )
    (ended,) = published(contracts, "contracts.contract.terminated")
    assert ended["data"]["terminated_on"] is not None
