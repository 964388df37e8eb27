"""The shared web base (errors, probes, metrics, OpenAPI, request ids, limits) seen through
the customers app on its own PostgreSQL database."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url

from services.customers.models import Customer
from services.customers.schemas import CustomerCreateSchema
from shared.db import Database
from shared.web.auth import IDENTITY_HEADER, Identity, sign_identity
from tests.support.harness import SECRET, ServiceUnderTest, SignedClient
from tests.support.tcpproxy import TcpProxy

PROBES = ["/healthz", "/readyz", "/metrics", "/openapi.json"]
SOME_ID = "0b7f3a52-0c9e-4b8e-9d61-3f1a2b4c5d6e"


@pytest.fixture
def customers(service_factory: Callable[..., ServiceUnderTest]) -> ServiceUnderTest:
    return service_factory("customers")


@pytest.fixture
def clerk(customers: ServiceUnderTest) -> SignedClient:
    return customers.client(role="clerk")


def signed(role: str = "clerk") -> dict[str, str]:
    return {IDENTITY_HEADER: sign_identity(SECRET, Identity("tester", role))}


def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = json.loads(answer.get_data(as_text=True))
    assert body["status"] == status
    assert body["type"] and body["title"] and body["detail"]
    return dict(body)


# --- errors are problem documents ------------------------------------------------------------


def test_malformed_json_is_400_problem_and_writes_nothing(customers, clerk):
    answer = clerk.post(
        "/customers", data='{"name": "Acme', headers={"Content-Type": "application/json"}
    )

    problem(answer, 400)
    assert customers.rows(Customer.__table__) == []
    assert customers.outbox() == []


def test_malformed_json_in_a_patch_is_400_problem(clerk):
    customer = clerk.post("/customers", json={"name": "Acme Ltd"}).get_json()

    answer = clerk.patch(
        f"/customers/{customer['id']}", data="{notes:", headers={"Content-Type": "application/json"}
    )

    problem(answer, 400)


def test_a_wrong_method_is_405_problem_naming_the_allowed_ones(customers, subtests):
    client = customers.app.test_client()
    for method, path, allowed in [
        ("delete", "/customers", {"GET", "POST"}),
        ("put", f"/customers/{SOME_ID}", {"GET", "PATCH"}),
        ("delete", f"/customers/{SOME_ID}/archive", {"POST"}),
    ]:
        with subtests.test(method=method, path=path):
            answer = getattr(client, method)(path, headers=signed())

            problem(answer, 405)
            assert allowed <= {m.strip() for m in answer.headers["Allow"].split(",")}


def test_an_unknown_path_is_404_problem_never_html(customers, subtests):
    client = customers.app.test_client()
    for who, identity in [("signed", signed()), ("anonymous", {})]:
        with subtests.test(who):
            answer = client.get("/no/such/page", headers={"Accept": "text/html", **identity})

            problem(answer, 404)
            assert "<html" not in answer.get_data(as_text=True).lower()


def test_a_body_over_1_mb_is_413_problem_and_writes_nothing(customers, clerk):
    answer = clerk.post("/customers", json={"name": "Acme Ltd", "notes": "x" * (1024 * 1024)})

    problem(answer, 413)
    assert customers.rows(Customer.__table__) == []


def test_a_problem_title_is_a_phrase_not_a_python_class_name(clerk):
    answer = clerk.post("/customers", json={"name": "Acme Ltd", "notes": "x" * (1024 * 1024)})

    title = problem(answer, 413)["title"]
    assert "Exception" not in title


# --- probes, metrics and the OpenAPI document need no identity --------------------------------


def test_probes_and_the_openapi_document_need_no_identity(customers, subtests):
    client = customers.app.test_client()
    for path in PROBES:
        with subtests.test(path):
            answer = client.get(path)

            assert answer.status_code == 200, answer.get_data(as_text=True)


def test_healthz_says_the_service_is_alive(customers):
    answer = customers.app.test_client().get("/healthz")

    assert answer.get_json() == {"status": "ok", "service": "customers"}


def test_readyz_reports_the_database_ok(customers):
    answer = customers.app.test_client().get("/readyz")

    assert answer.status_code == 200
    assert answer.get_json()["database"] == "ok"
    assert answer.get_json()["service"] == "customers"


def test_readyz_is_503_problem_when_the_database_is_unreachable(customers):
    unreachable = Database(
        "customers",
        "postgresql+psycopg://root@127.0.0.1:1/tameio_nowhere?connect_timeout=2",
        customers.definition.metadata,
    )
    app = customers.definition.create_app(customers.settings, unreachable)
    try:
        answer = app.test_client().get("/readyz")
        metrics = app.test_client().get("/metrics").get_data(as_text=True)
    finally:
        unreachable.dispose()

    problem(answer, 503)
    assert "tameio_database_up 0.0" in metrics


def test_metrics_report_the_outbox_backlog_and_requests_answered(customers, clerk):
    clerk.post("/customers", json={"name": "Acme Ltd"})

    answer = customers.app.test_client().get("/metrics")

    assert answer.mimetype == "text/plain"
    text = answer.get_data(as_text=True)
    assert re.search(r"^tameio_outbox_backlog 1\.0$", text, re.MULTILINE)
    assert re.search(
        r'^tameio_http_requests_total\{endpoint="/customers",method="POST",'
        r'service="customers",status="201"\} 1\.0$',
        text,
        re.MULTILINE,
    )


def test_the_metrics_content_type_names_each_parameter_once(customers):
    # Prometheus parses the media type strictly: a repeated parameter fails the scrape.
    answer = customers.app.test_client().get("/metrics")

    parameters = [p.split("=")[0].strip() for p in answer.content_type.split(";")[1:]]
    assert len(parameters) == len(set(parameters)), answer.content_type


def test_the_openapi_document_lists_the_customers_paths(customers):
    document = customers.app.test_client().get("/openapi.json").get_json()

    paths = document["paths"]
    assert {"get", "post"} <= set(paths["/customers"])
    assert {"get", "patch"} <= set(paths["/customers/{customer_id}"])
    assert "post" in paths["/customers/{customer_id}/archive"]
    assert {"get", "post"} <= set(paths["/customers/{customer_id}/interactions"])
    assert document["servers"] == [{"url": "/api/customers"}]


def test_the_openapi_components_are_generated_from_the_schemas(customers):
    document = customers.app.test_client().get("/openapi.json").get_json()

    schemas = document["components"]["schemas"]
    assert {"CustomerCreate", "CustomerSnapshot", "InteractionCreate", "InteractionLogged"} <= set(
        schemas
    )
    create = schemas["CustomerCreate"]
    assert set(create["properties"]) == set(CustomerCreateSchema().fields)
    assert create["required"] == ["name"]
    assert create["properties"]["name"]["maxLength"] == 200
    post = document["paths"]["/customers"]["post"]
    body_schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema == {"$ref": "#/components/schemas/CustomerCreate"}
    answer_schema = post["responses"]["201"]["content"]["application/json"]["schema"]
    assert answer_schema == {"$ref": "#/components/schemas/CustomerSnapshot"}


# --- request ids ----------------------------------------------------------------------------


def test_every_answer_carries_a_request_id(customers, subtests):
    client = customers.app.test_client()
    for method, path, body, role, status in [
        ("get", "/healthz", None, None, 200),
        ("post", "/customers", {"name": "Acme"}, "clerk", 201),
        ("get", "/customers", None, None, 401),
        ("post", "/customers", {"name": "Acme"}, "viewer", 403),
        ("get", "/customers/123", None, "clerk", 404),
        ("delete", "/customers", None, "clerk", 405),
        ("post", "/customers", {"name": ""}, "clerk", 422),
        ("post", "/customers", "{", "clerk", 400),
    ]:
        with subtests.test(status=status):
            headers = signed(role) if role else {}
            if isinstance(body, str):
                headers["Content-Type"] = "application/json"
                answer = getattr(client, method)(path, data=body, headers=headers)
            else:
                answer = getattr(client, method)(path, json=body, headers=headers)

            assert answer.status_code == status
            assert answer.headers.get("X-Request-ID")


def test_each_request_gets_its_own_request_id(customers):
    client = customers.app.test_client()

    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(3)}

    assert len(ids) == 3


def test_an_incoming_request_id_is_echoed(customers, clerk):
    anonymous = customers.app.test_client()

    probe = anonymous.get("/healthz", headers={"X-Request-ID": "req-probe-42"})
    created = clerk.post(
        "/customers", json={"name": "Acme Ltd"}, headers={"X-Request-ID": "req-create-43"}
    )
    refused = anonymous.get("/customers", headers={"X-Request-ID": "req-refused-44"})

    assert probe.headers["X-Request-ID"] == "req-probe-42"
    assert created.headers["X-Request-ID"] == "req-create-43"
    assert refused.headers["X-Request-ID"] == "req-refused-44"


def test_a_database_gone_mid_request_is_503_with_retry_after_not_500(service_factory):
    customers = service_factory("customers")
    url = make_url(customers.db.url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    settings = customers.settings.with_overrides(
        database_url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    )
    db = customers.definition.database(settings)
    try:
        app = customers.definition.create_app(settings, db)
        client = SignedClient(app, role="clerk")
        assert client.get("/customers").status_code == 200
        proxy.cut()
        answer = client.post("/customers", json={"name": "Lost Ltd"})
        assert answer.status_code == 503
        assert answer.mimetype == "application/problem+json"
        assert answer.headers["Retry-After"] == "2"
        proxy.restore()
        assert client.post("/customers", json={"name": "Kept Ltd"}).status_code == 201
        names = [c["name"] for c in client.get("/customers").get_json()["items"]]
        assert names == ["Kept Ltd"]
    finally:
        db.dispose()
        proxy.close()


def test_a_request_on_a_connection_the_server_ended_is_run_again_on_a_fresh_one(customers, clerk):
    """No ping before each transaction: a pooled connection the server ended meanwhile (a
    restart, an administrator) fails its first statement; the pool is emptied and the
    request runs again, so the client sees nothing of it, and it is recorded once."""
    assert clerk.get("/customers").status_code == 200  # a connection now waits in the pool
    direct = make_url(customers.db.url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(direct, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert ended is not None and ended[0] >= 1

    answer = clerk.post("/customers", json={"name": "Still Here Ltd"})

    assert answer.status_code == 201, answer.get_json()
    names = [c["name"] for c in clerk.get("/customers").get_json()["items"]]
    assert names == ["Still Here Ltd"]
