"""The customers API as a client sees it: answers, the rows behind them, the events they emit.

Each test runs on its own PostgreSQL database (the property test on SQLite, for speed).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.customers import commands as customers_commands
from services.customers.models import Customer, Interaction
from shared.web.auth import IDENTITY_HEADER, Identity, sign_identity
from tests.support.harness import SECRET, ServiceUnderTest, SignedClient

CONTRACT_FIELDS = {
    "name",
    "email",
    "phone",
    "billing_address",
    "payment_terms",
    "currency",
    "tax_id",
    "credit_limit",
    "reminders_enabled",
    "notes",
    "id",
    "number",
    "status",
    "version",
    "created_at",
}
ADDRESS = {
    "line1": "Ermou 12",
    "line2": "3rd floor",
    "city": "Athina",
    "postal_code": "10563",
    "region": "Attiki",
    "country": "GR",
}
NO_SUCH_CUSTOMER = "0b7f3a52-0c9e-4b8e-9d61-3f1a2b4c5d6e"


@pytest.fixture
def customers(service_factory: Callable[..., ServiceUnderTest]) -> ServiceUnderTest:
    return service_factory("customers")


@pytest.fixture
def clerk(customers: ServiceUnderTest) -> SignedClient:
    return customers.client(role="clerk", subject="clerk-maria")


def create(client: SignedClient, **fields: Any) -> dict[str, Any]:
    answer = client.post("/customers", json={"name": "Acme Ltd", **fields})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return dict(answer.get_json())


def problem(answer: Any, status: int) -> dict[str, Any]:
    """Assert ``answer`` is a problem document with ``status``; return its body."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = json.loads(answer.get_data(as_text=True))
    assert body["status"] == status
    assert body["type"] and body["title"] and body["detail"]
    return dict(body)


def events(service: ServiceUnderTest) -> list[dict[str, Any]]:
    return [json.loads(row.payload) for row in service.outbox()]


def customer_rows(service: ServiceUnderTest) -> list[Any]:
    return service.rows(Customer.__table__)


def cursor_of(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def all_pages(client: SignedClient, path: str, **query: Any) -> list[list[dict[str, Any]]]:
    """Follow next_cursor from the first page to the last; return the pages."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        args = {**query, **({"cursor": cursor} if cursor else {})}
        answer = client.get(path, query_string=args)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        body = answer.get_json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 1000, "next_cursor never ends"


# --- POST /customers ---------------------------------------------------------------------


def test_create_answers_201_with_every_contract_field(customers, clerk):
    body = {
        "name": "Papadopoulos Trading",
        "email": "ap@papadopoulos.example",
        "phone": "+30 210 1234567",
        "billing_address": ADDRESS,
        "payment_terms": "eom_15",
        "currency": "EUR",
        "tax_id": "EL123456789",
        "credit_limit": "2500.5",
        "reminders_enabled": False,
        "notes": "Pays by bank transfer",
    }

    answer = clerk.post("/customers", json=body)

    assert answer.status_code == 201, answer.get_json()
    customer = answer.get_json()
    assert set(customer) >= CONTRACT_FIELDS
    assert {key: customer[key] for key in body} == {**body, "credit_limit": "2500.50"}
    assert customer["number"] == "C-000001"
    assert customer["status"] == "active"
    assert customer["version"] == 1
    created_at = dt.datetime.fromisoformat(customer["created_at"].replace("Z", "+00:00"))
    assert created_at.utcoffset() == dt.timedelta(0)


def test_create_fills_the_documented_defaults(clerk):
    customer = create(clerk, name="Minimal Co")

    assert customer["payment_terms"] == "net_30"
    assert customer["currency"] == "EUR"
    assert customer["reminders_enabled"] is True
    assert customer["credit_limit"] is None
    assert customer["billing_address"] is None


def test_customer_numbers_run_c000001_then_c000002(clerk):
    first = create(clerk, name="First")
    second = create(clerk, name="Second")

    assert (first["number"], second["number"]) == ("C-000001", "C-000002")
    assert first["id"] != second["id"]


def test_create_answers_location_and_etag_of_the_new_customer(clerk):
    answer = clerk.post("/customers", json={"name": "Acme Ltd"})
    customer = answer.get_json()

    assert answer.headers["ETag"] == '"1"'
    location = urljoin("http://service/customers", answer.headers["Location"])
    assert location == f"http://service/customers/{customer['id']}"
    fetched = clerk.get(location.removeprefix("http://service"))
    assert fetched.status_code == 200
    assert fetched.get_json() == customer
    assert fetched.headers["ETag"] == '"1"'


def test_create_writes_the_row_and_a_created_event_whose_data_is_the_answer(customers, clerk):
    customer = create(clerk, name="Acme Ltd", credit_limit="100")

    (row,) = customer_rows(customers)
    assert (str(row.id), row.number, row.credit_limit_minor) == (customer["id"], "C-000001", 10000)
    (event,) = events(customers)
    assert event["type"] == "customers.customer.created"
    assert event["subject"] == customer["id"]
    assert event["sequence"] == 1
    assert event["data"] == customer


def test_credit_limit_is_shown_at_the_currency_exponent(clerk, subtests):
    for currency, sent, shown in [
        ("EUR", "2500.5", "2500.50"),
        ("EUR", 99.9, "99.90"),
        ("JPY", "150000", "150000"),
        ("KWD", "12.5", "12.500"),
    ]:
        with subtests.test(currency=currency, sent=sent):
            customer = create(clerk, currency=currency, credit_limit=sent)
            assert customer["credit_limit"] == shown


# --- validation ----------------------------------------------------------------------------

MISSING = object()
INVALID_CREATES = {
    "empty name": ({"name": ""}, "name"),
    "5000-character name": ({"name": "x" * 5000}, "name"),
    "whitespace-only name": ({"name": "   \t "}, "name"),
    "missing name": ({"name": MISSING}, "name"),
    "malformed email": ({"email": "not-an-email"}, "email"),
    "payment terms net_-5": ({"payment_terms": "net_-5"}, "payment_terms"),
    "payment terms whenever": ({"payment_terms": "whenever"}, "payment_terms"),
    "currency EURO": ({"currency": "EURO"}, "currency"),
    "country Greece": (
        {"billing_address": {"city": "Athina", "country": "Greece"}},
        "billing_address.country",
    ),
    "negative credit limit": ({"credit_limit": "-1.00"}, "credit_limit"),
    "3 decimals in EUR": ({"credit_limit": "10.005"}, "credit_limit"),
    "decimals in JPY": ({"currency": "JPY", "credit_limit": "1500.5"}, "credit_limit"),
    "a zero decimal in JPY": ({"currency": "JPY", "credit_limit": "1500.0"}, "credit_limit"),
    "unknown field": ({"colour": "blue"}, "colour"),
}


def test_an_invalid_create_is_422_naming_the_field_and_writes_nothing(customers, clerk, subtests):
    for case, (fields, field) in INVALID_CREATES.items():
        with subtests.test(case):
            body = {k: v for k, v in {"name": "Acme Ltd", **fields}.items() if v is not MISSING}
            answer = clerk.post("/customers", json=body)

            assert field in problem(answer, 422)["errors"]
            assert customer_rows(customers) == []
            assert customers.outbox() == []


def test_a_json_list_as_body_is_422_and_writes_nothing(customers, clerk):
    answer = clerk.post("/customers", json=[{"name": "Acme Ltd"}])

    assert problem(answer, 422)["errors"]
    assert customer_rows(customers) == []
    assert customers.outbox() == []


def test_a_failed_create_does_not_use_up_a_number(clerk):
    clerk.post("/customers", json={"name": ""})

    assert create(clerk)["number"] == "C-000001"


def test_a_200_character_name_is_accepted_in_any_script(clerk, subtests):
    # U+FDFA is one character that NFKD expands to 18: the search column must still fit it.
    for script, letter in [("latin", "a"), ("greek", "Ω"), ("eszett", "ß"), ("arabic", "\ufdfa")]:
        with subtests.test(script):
            answer = clerk.post("/customers", json={"name": letter * 200})

            assert answer.status_code == 201, answer.get_data(as_text=True)
            assert answer.get_json()["name"] == letter * 200


def test_a_nul_character_in_text_is_422_not_500(customers, clerk, subtests):
    for field in ("name", "notes"):
        with subtests.test(field):
            answer = clerk.post("/customers", json={"name": "Acme Ltd", field: "Acme\x00 Ltd"})

            assert field in problem(answer, 422)["errors"]
            assert customer_rows(customers) == []


# --- roles and identity --------------------------------------------------------------------


def test_a_viewer_may_read_but_not_create(customers):
    viewer = customers.client(role="viewer")

    problem(viewer.post("/customers", json={"name": "Acme Ltd"}), 403)
    assert viewer.get("/customers").status_code == 200
    assert customer_rows(customers) == []


def test_a_viewer_may_not_patch_archive_or_log_an_interaction(customers, clerk):
    customer = create(clerk)
    viewer = customers.client(role="viewer")
    path = f"/customers/{customer['id']}"

    problem(viewer.patch(path, json={"notes": "x"}), 403)
    problem(viewer.post(f"{path}/archive"), 403)
    problem(
        viewer.post(f"{path}/interactions", json={"channel": "note", "direction": "internal"}), 403
    )

    assert viewer.get(path).get_json() == customer
    assert customers.rows(Interaction.__table__) == []
    assert len(events(customers)) == 1


def test_without_an_identity_header_the_answer_is_401(customers):
    anonymous = customers.app.test_client()

    problem(anonymous.get("/customers"), 401)
    problem(anonymous.post("/customers", json={"name": "Acme Ltd"}), 401)
    assert customer_rows(customers) == []


def test_an_invalid_identity_header_is_401(customers, subtests):
    headers = {
        "garbage": "garbage",
        "forged": sign_identity("another-secret-0123456789", Identity("x", "admin")),
        "unknown role": sign_identity(SECRET, Identity("x", "superuser")),
        "no subject": sign_identity(SECRET, Identity("", "admin")),
    }
    anonymous = customers.app.test_client()
    for case, header in headers.items():
        with subtests.test(case):
            answer = anonymous.post(
                "/customers", json={"name": "Acme"}, headers={IDENTITY_HEADER: header}
            )

            problem(answer, 401)
            assert customer_rows(customers) == []


def test_an_expired_identity_header_is_401(customers, monkeypatch):
    six_minutes_ago = time.time() - 360
    with monkeypatch.context() as past:
        past.setattr(time, "time", lambda: six_minutes_ago)
        header = sign_identity(SECRET, Identity("clerk-maria", "clerk"))

    answer = customers.app.test_client().get("/customers", headers={IDENTITY_HEADER: header})

    problem(answer, 401)


# --- GET /customers/{id} -------------------------------------------------------------------


def test_get_answers_the_customer_with_its_etag(clerk):
    customer = create(clerk, billing_address=ADDRESS)

    answer = clerk.get(f"/customers/{customer['id']}")

    assert answer.status_code == 200
    assert answer.get_json() == customer
    assert answer.headers["ETag"] == '"1"'


def test_an_unknown_or_malformed_id_is_404_never_500(customers, clerk, subtests):
    for customer_id in (NO_SUCH_CUSTOMER, "123", "not-a-uuid"):
        with subtests.test(customer_id):
            problem(clerk.get(f"/customers/{customer_id}"), 404)
            problem(clerk.patch(f"/customers/{customer_id}", json={"notes": "x"}), 404)
            problem(clerk.post(f"/customers/{customer_id}/archive"), 404)
    assert customers.outbox() == []


# --- PATCH ---------------------------------------------------------------------------------


def test_patch_changes_fields_bumps_the_version_and_emits_updated(customers, clerk):
    customer = create(clerk, name="Acme Ltd")
    change = {
        "name": "  Acme Hellas  ",
        "email": "billing@acme.example",
        "payment_terms": "eom_30",
        "billing_address": {"city": "Patra", "country": "GR"},
        "credit_limit": "5000",
    }

    answer = clerk.patch(f"/customers/{customer['id']}", json=change)

    assert answer.status_code == 200, answer.get_json()
    updated = answer.get_json()
    assert updated["name"] == "Acme Hellas"
    assert updated["email"] == "billing@acme.example"
    assert updated["payment_terms"] == "eom_30"
    assert updated["billing_address"] == {
        "line1": None,
        "line2": None,
        "city": "Patra",
        "postal_code": None,
        "region": None,
        "country": "GR",
    }
    assert updated["credit_limit"] == "5000.00"
    assert updated["version"] == 2
    assert answer.headers["ETag"] == '"2"'
    assert clerk.get(f"/customers/{customer['id']}").get_json() == updated
    _created, changed = events(customers)
    assert changed["type"] == "customers.customer.updated"
    assert changed["subject"] == customer["id"]
    assert changed["sequence"] == 2
    assert changed["data"] == updated


def test_patch_with_if_match_naming_the_current_version_succeeds(clerk, subtests):
    for if_match in ('"1"', "1", 'W/"1"', "*"):
        with subtests.test(if_match=if_match):
            customer = create(clerk)

            answer = clerk.patch(
                f"/customers/{customer['id']}",
                json={"notes": "VIP"},
                headers={"If-Match": if_match},
            )

            assert answer.status_code == 200, answer.get_json()
            assert answer.get_json()["notes"] == "VIP"
            assert answer.get_json()["version"] == 2


def test_patch_with_a_stale_if_match_is_409_and_changes_nothing(customers, clerk):
    customer = create(clerk)
    clerk.patch(f"/customers/{customer['id']}", json={"notes": "first"})
    before_rows, before_events = customer_rows(customers), customers.outbox()

    answer = clerk.patch(
        f"/customers/{customer['id']}", json={"notes": "second"}, headers={"If-Match": '"1"'}
    )

    problem(answer, 409)
    assert customer_rows(customers) == before_rows
    assert customers.outbox() == before_events
    assert clerk.get(f"/customers/{customer['id']}").get_json()["notes"] == "first"


def test_an_invalid_patch_is_422_naming_the_field_and_changes_nothing(customers, clerk, subtests):
    customer = create(clerk)
    for change, field in [
        ({"name": None}, "name"),
        ({"name": "  "}, "name"),
        ({"payment_terms": "net_366"}, "payment_terms"),
        ({"credit_limit": "1.001"}, "credit_limit"),
        ({"currency": "JPY", "credit_limit": "10.5"}, "credit_limit"),
        ({"status": "archived"}, "status"),
    ]:
        with subtests.test(change=change):
            answer = clerk.patch(f"/customers/{customer['id']}", json=change)

            assert field in problem(answer, 422)["errors"]
            assert clerk.get(f"/customers/{customer['id']}").get_json() == customer
            assert len(events(customers)) == 1


def test_a_patch_that_changes_nothing_keeps_the_version_and_emits_nothing(customers, clerk):
    customer = create(clerk, notes="same")

    answer = clerk.patch(f"/customers/{customer['id']}", json={"notes": "same"})

    assert answer.status_code == 200
    assert answer.get_json()["version"] == 1
    assert len(events(customers)) == 1


def test_patch_of_an_archived_customer_is_409(customers, clerk):
    customer = create(clerk)
    clerk.post(f"/customers/{customer['id']}/archive")

    answer = clerk.patch(f"/customers/{customer['id']}", json={"notes": "too late"})

    problem(answer, 409)
    assert clerk.get(f"/customers/{customer['id']}").get_json()["notes"] is None
    assert [e["type"] for e in events(customers)] == [
        "customers.customer.created",
        "customers.customer.archived",
    ]


# --- archive ---------------------------------------------------------------------------------


def test_archive_sets_status_archived_and_emits_archived(customers, clerk):
    customer = create(clerk)

    answer = clerk.post(f"/customers/{customer['id']}/archive")

    assert answer.status_code == 200, answer.get_json()
    archived = answer.get_json()
    assert archived["status"] == "archived"
    assert archived["version"] == 2
    assert clerk.get(f"/customers/{customer['id']}").get_json() == archived
    event = events(customers)[-1]
    assert event["type"] == "customers.customer.archived"
    assert event["subject"] == customer["id"]
    assert event["sequence"] == 2
    assert event["data"]["customer_id"] == customer["id"]


def test_archiving_twice_is_409_and_emits_nothing_more(customers, clerk):
    customer = create(clerk)
    clerk.post(f"/customers/{customer['id']}/archive")

    problem(clerk.post(f"/customers/{customer['id']}/archive"), 409)
    assert len(events(customers)) == 2


def test_the_list_filters_by_status(clerk):
    kept = create(clerk, name="Kept")
    gone = create(clerk, name="Gone")
    clerk.post(f"/customers/{gone['id']}/archive")

    def names(status: str) -> list[str]:
        return [c["name"] for c in clerk.get(f"/customers?status={status}").get_json()["items"]]

    assert names("active") == [kept["name"]]
    assert names("archived") == [gone["name"]]
    assert len(clerk.get("/customers").get_json()["items"]) == 2
    problem(clerk.get("/customers?status=deleted"), 422)


# --- search ----------------------------------------------------------------------------------


@pytest.fixture
def directory(clerk: SignedClient) -> dict[str, dict[str, Any]]:
    return {
        "athens": create(clerk, name="ΑΘΗΝΆ Hotels", email="info@athina-hotels.example"),
        "pure": create(clerk, name="100% Pure_Co", email="billing@pure.example"),
        "plain": create(clerk, name="1000 Pure Co", email="Accounts@Northwind.example"),
        "mueller": create(clerk, name="Müller GmbH"),
    }


def search(client: SignedClient, q: str) -> list[str]:
    answer = client.get("/customers", query_string={"q": q})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [item["name"] for item in answer.get_json()["items"]]


def test_search_ignores_case_and_accents(clerk, directory, subtests):
    for q, found in [
        ("αθηνα", "ΑΘΗΝΆ Hotels"),
        ("ΑΘΗΝΑ", "ΑΘΗΝΆ Hotels"),
        ("Αθηνά", "ΑΘΗΝΆ Hotels"),
        ("hotels", "ΑΘΗΝΆ Hotels"),
        ("muller", "Müller GmbH"),
        ("MÜLLER", "Müller GmbH"),
    ]:
        with subtests.test(q=q):
            assert search(clerk, q) == [found]


def test_search_finds_by_email_fragment_and_by_number(clerk, directory, subtests):
    for q, found in [
        ("northwind.EXA", "1000 Pure Co"),
        ("@pure.example", "100% Pure_Co"),
        ("C-000002", "100% Pure_Co"),
        ("c-000004", "Müller GmbH"),
    ]:
        with subtests.test(q=q):
            assert search(clerk, q) == [found]


def test_search_finds_by_tax_id_and_number_finds_exactly_one(clerk, directory):
    taxed = create(clerk, name="Ergo AE", tax_id="EL094014201")

    assert search(clerk, "el094014") == ["Ergo AE"]
    for number in (taxed["number"], taxed["number"].lower()):
        answer = clerk.get("/customers", query_string={"number": number})
        assert [c["id"] for c in answer.get_json()["items"]] == [taxed["id"]]
    assert clerk.get("/customers", query_string={"number": "C-999999"}).get_json()["items"] == []


def test_a_changed_tax_id_is_what_search_finds(clerk, directory):
    customer = directory["mueller"]
    answer = clerk.patch(
        f"/customers/{customer['id']}",
        json={"tax_id": "DE811907980"},
        headers={"If-Match": str(customer["version"])},
    )
    assert answer.status_code == 200, answer.get_json()

    assert search(clerk, "de8119") == ["Müller GmbH"]


def test_percent_and_underscore_in_search_are_literal(clerk, directory, subtests):
    # As LIKE wildcards "0_p" would match "1000 pure" and "1%0" would match "100% pure_co".
    for q, found in [("%", ["100% Pure_Co"]), ("_", ["100% Pure_Co"]), ("0_p", []), ("1%0", [])]:
        with subtests.test(q=q):
            assert search(clerk, q) == found


def test_a_search_with_a_nul_character_is_not_a_500(clerk, directory):
    answer = clerk.get("/customers", query_string={"q": "Pure\x00"})

    assert answer.status_code in (200, 422), answer.get_data(as_text=True)


# --- pagination --------------------------------------------------------------------------------


def test_paging_returns_each_customer_once_and_ends_with_a_null_cursor(clerk):
    made = [create(clerk, name=f"Customer {i}")["id"] for i in range(7)]

    pages = all_pages(clerk, "/customers", limit=3)

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [c["id"] for page in pages for c in page] == made


def test_a_full_last_page_has_a_null_cursor(clerk):
    for i in range(4):
        create(clerk, name=f"Customer {i}")

    pages = all_pages(clerk, "/customers", limit=2)

    assert [len(page) for page in pages] == [2, 2]


def test_a_limit_outside_1_to_500_is_422(clerk, subtests):
    for limit in ("0", "501", "-1", "ten"):
        with subtests.test(limit=limit):
            assert "limit" in problem(clerk.get(f"/customers?limit={limit}"), 422)["errors"]
    assert clerk.get("/customers?limit=500").status_code == 200


def test_a_cursor_not_made_by_the_list_is_422(clerk, subtests):
    create(clerk)
    for case, cursor in {
        "not base64 json": "zzz",
        "not base64": "!!!!",
        "a string": cursor_of(["C-000001"]),
        "two values": cursor_of([1, 2]),
        "null": cursor_of([None]),
    }.items():
        with subtests.test(case):
            answer = clerk.get("/customers", query_string={"cursor": cursor})

            assert "cursor" in problem(answer, 422)["errors"]


def test_a_cursor_holding_a_boolean_or_a_huge_number_is_422_not_500(clerk, subtests):
    create(clerk)
    for case, cursor in {"a boolean": cursor_of([True]), "10**30": cursor_of([10**30])}.items():
        with subtests.test(case):
            answer = clerk.get("/customers", query_string={"cursor": cursor})

            assert "cursor" in problem(answer, 422)["errors"]


customer_names = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=60
).filter(lambda name: name.strip() != "")


@pytest.fixture
def embedded_customers(service_factory: Callable[..., ServiceUnderTest]) -> ServiceUnderTest:
    return service_factory("customers", embedded=True)


def start_empty(service: ServiceUnderTest) -> None:
    """Hypothesis runs many examples on one database: each starts from no customers."""
    tables = service.db.metadata.tables
    with service.db.engine.begin() as conn:
        for name in ("interactions", "customers", "outbox", "counters", "idempotency_keys"):
            conn.execute(tables[name].delete())


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(names=st.lists(customer_names, max_size=20), limit=st.integers(min_value=1, max_value=8))
def test_paging_any_customers_with_any_limit_returns_each_once_in_number_order(
    embedded_customers, names, limit
):
    start_empty(embedded_customers)
    clerk = embedded_customers.client(role="clerk")
    made = [create(clerk, name=name) for name in names]

    pages = all_pages(clerk, "/customers", limit=limit)

    listed = [c for page in pages for c in page]
    assert [c["id"] for c in listed] == [c["id"] for c in made]
    assert [c["number"] for c in listed] == [f"C-{n:06d}" for n in range(1, len(names) + 1)]
    assert [c["name"] for c in listed] == [name.strip() for name in names]
    assert pages == [[]] or all(1 <= len(page) <= limit for page in pages)


# --- CSV ---------------------------------------------------------------------------------------


def csv_rows(answer: Any) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(answer.get_data().decode("utf-8-sig"))))


def test_the_list_as_csv_has_a_header_with_dotted_address_columns(clerk, subtests):
    greek = create(clerk, name="ΑΘΗΝΆ Hotels", billing_address=ADDRESS)
    create(clerk, name="No Address Ltd")
    for ask in ({"query_string": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}):
        with subtests.test(**ask):
            rows = csv_rows(clerk.get("/customers", **ask))

            header = set(rows[0])
            assert {"id", "number", "name"} <= header
            assert {f"billing_address.{key}" for key in ADDRESS} <= header
            assert [row["number"] for row in rows] == ["C-000001", "C-000002"]
            assert rows[0]["id"] == greek["id"]
            assert rows[0]["name"] == "ΑΘΗΝΆ Hotels"
            assert rows[0]["billing_address.country"] == "GR"
            assert rows[1]["billing_address.city"] == ""


def test_the_csv_columns_do_not_depend_on_which_customers_are_on_the_page(clerk):
    # A spreadsheet joining pages needs one header: page 2 has no address, page 1 does.
    create(clerk, name="With Address", billing_address=ADDRESS)
    create(clerk, name="Without Address")
    first = clerk.get("/customers", query_string={"format": "csv", "limit": 1})
    cursor = clerk.get("/customers", query_string={"limit": 1}).get_json()["next_cursor"]

    second = clerk.get("/customers", query_string={"format": "csv", "limit": 1, "cursor": cursor})

    first_header = first.get_data().decode("utf-8-sig").splitlines()[0]
    second_header = second.get_data().decode("utf-8-sig").splitlines()[0]
    assert second_header == first_header


def test_a_json_client_still_gets_json(clerk):
    create(clerk)

    answer = clerk.get("/customers", headers={"Accept": "application/json, text/csv;q=0.5"})

    assert answer.mimetype == "application/json"
    assert len(answer.get_json()["items"]) == 1


# --- Idempotency-Key -----------------------------------------------------------------------------


def test_the_same_idempotency_key_and_body_return_the_first_answer(customers, clerk):
    body = {"name": "Acme Ltd", "email": "ap@acme.example"}
    key = {"Idempotency-Key": "create-acme-1"}

    first = clerk.post("/customers", json=body, headers=key)
    again = clerk.post("/customers", json=body, headers=key)

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(customer_rows(customers)) == 1
    assert len(events(customers)) == 1
    assert create(clerk, name="Next")["number"] == "C-000002"


def test_the_same_idempotency_key_with_another_body_is_409(customers, clerk):
    key = {"Idempotency-Key": "create-acme-1"}
    first = clerk.post("/customers", json={"name": "Acme Ltd"}, headers=key)

    answer = clerk.post("/customers", json={"name": "Other Ltd"}, headers=key)

    problem(answer, 409)
    (row,) = customer_rows(customers)
    assert str(row.id) == first.get_json()["id"]
    assert len(events(customers)) == 1


def test_an_idempotency_key_is_scoped_to_the_caller(customers, clerk):
    key = {"Idempotency-Key": "shared-key"}
    other_clerk = customers.client(role="clerk", subject="clerk-nikos")

    mine = clerk.post("/customers", json={"name": "Acme Ltd"}, headers=key)
    theirs = other_clerk.post("/customers", json={"name": "Acme Ltd"}, headers=key)

    assert mine.status_code == theirs.status_code == 201
    assert mine.get_json()["id"] != theirs.get_json()["id"]
    assert len(customer_rows(customers)) == 2


# --- interactions --------------------------------------------------------------------------------


def log(client: SignedClient, customer_id: str, **fields: Any) -> Any:
    body = {"channel": "phone", "direction": "inbound", **fields}
    return client.post(f"/customers/{customer_id}/interactions", json=body)


def test_logging_an_interaction_records_the_caller_as_author(customers, clerk):
    customer = create(clerk)

    answer = log(
        clerk,
        customer["id"],
        subject="Asked for a copy of INV-2026-000001",
        body="Sent it by email.",
        invoice_id="INV-2026-000001",
        occurred_at="2026-03-02T09:15:00Z",
    )

    assert answer.status_code == 201, answer.get_json()
    interaction = answer.get_json()
    assert interaction["customer_id"] == customer["id"]
    assert (interaction["channel"], interaction["direction"]) == ("phone", "inbound")
    assert interaction["subject"] == "Asked for a copy of INV-2026-000001"
    assert interaction["invoice_id"] == "INV-2026-000001"
    assert interaction["author"] == "clerk-maria"
    assert interaction["source"] == "manual"
    occurred = dt.datetime.fromisoformat(interaction["occurred_at"].replace("Z", "+00:00"))
    assert occurred == dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.UTC)
    event = events(customers)[-1]
    assert event["type"] == "customers.interaction.logged"
    assert event["subject"] == interaction["id"]
    assert event["data"] == interaction


def test_an_interaction_without_occurred_at_happened_now(clerk):
    customer = create(clerk)
    before = dt.datetime.now(dt.UTC)

    interaction = log(clerk, customer["id"], channel="note", direction="internal").get_json()

    occurred = dt.datetime.fromisoformat(interaction["occurred_at"].replace("Z", "+00:00"))
    assert before <= occurred <= dt.datetime.now(dt.UTC)


def test_an_invalid_interaction_is_422_and_writes_nothing(customers, clerk, subtests):
    customer = create(clerk)
    for fields, field in [
        ({"channel": "fax"}, "channel"),
        ({"direction": "sideways"}, "direction"),
        ({"channel": None}, "channel"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"invoice_id": "x" * 65}, "invoice_id"),
    ]:
        with subtests.test(fields=fields):
            answer = log(clerk, customer["id"], **fields)

            assert field in problem(answer, 422)["errors"]
            assert customers.rows(Interaction.__table__) == []
            assert len(events(customers)) == 1


def test_an_occurred_at_before_year_1_in_utc_is_422_not_500(customers, clerk):
    customer = create(clerk)

    answer = log(clerk, customer["id"], occurred_at="0001-01-01T00:00:00+05:00")

    assert "occurred_at" in problem(answer, 422)["errors"]
    assert customers.rows(Interaction.__table__) == []


def test_a_nul_character_in_an_interaction_is_422_not_500(customers, clerk):
    customer = create(clerk)

    answer = log(clerk, customer["id"], body="Called\x00 back")

    assert "body" in problem(answer, 422)["errors"]
    assert customers.rows(Interaction.__table__) == []


def test_an_interaction_can_be_logged_on_29_february(clerk, monkeypatch):
    customer = create(clerk)
    leap_day = dt.datetime(2028, 2, 29, 9, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(customers_commands, "utcnow", lambda: leap_day)

    answer = log(clerk, customer["id"])

    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.get_json()["occurred_at"].startswith("2028-02-29T09:30:00")


def test_the_history_is_newest_first_by_occurred_at_and_paginated(clerk):
    customer = create(clerk)
    days = [5, 1, 9, 3, 9, 7, 2]
    for day in days:
        log(clerk, customer["id"], subject=f"day {day}", occurred_at=f"2026-01-0{day}T12:00:00Z")

    pages = all_pages(clerk, f"/customers/{customer['id']}/interactions", limit=2)

    listed = [item for page in pages for item in page]
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert len({item["id"] for item in listed}) == len(days)
    assert [item["subject"] for item in listed] == [
        f"day {day}" for day in sorted(days, reverse=True)
    ]


def test_the_history_holds_only_that_customers_interactions(clerk):
    mine, other = create(clerk, name="Mine"), create(clerk, name="Other")
    log(clerk, mine["id"], subject="mine")
    log(clerk, other["id"], subject="other")

    answer = clerk.get(f"/customers/{mine['id']}/interactions")

    assert [item["subject"] for item in answer.get_json()["items"]] == ["mine"]


def test_interactions_of_an_unknown_customer_are_404(customers, clerk, subtests):
    for customer_id in (NO_SUCH_CUSTOMER, "not-a-uuid"):
        with subtests.test(customer_id):
            problem(clerk.get(f"/customers/{customer_id}/interactions"), 404)
            problem(log(clerk, customer_id), 404)
    assert customers.rows(Interaction.__table__) == []
    assert customers.outbox() == []
