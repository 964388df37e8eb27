"""The gateway: bearer tokens, signed identity, routing in-process and over HTTP."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from services.gateway.app import create_app as create_gateway
from services.gateway.commands import create_token
from services.gateway.routing import HttpBackend
from shared.web.auth import IDENTITY_HEADER, Identity, sign_identity
from tests.support.realmode import free_port

BOOTSTRAP = "bootstrap-token-for-tests"


@pytest.fixture
def suite(service_factory):
    """customers (PostgreSQL) behind a gateway that mounts it in-process, as embedded mode does."""
    customers = service_factory("customers")
    gateway = service_factory("gateway", embedded=True, TAMEIO_BOOTSTRAP_TOKEN=BOOTSTRAP)
    app = create_gateway(
        gateway.settings, gateway.db, backends={"customers": customers.app.wsgi_app}
    )
    return app.test_client(), gateway, customers


def token_for(gateway, role: str) -> str:
    with gateway.db.unit_of_work() as uow:
        token = create_token(uow.session, f"{role}-token", role)
        uow.commit()
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_requests_without_a_valid_token_are_401_problems(suite):
    client, _, _ = suite
    for headers in ({}, bearer("tmo_not-a-token"), {"Authorization": "Basic abc"}):
        answer = client.get("/api/customers/customers", headers=headers)
        assert answer.status_code == 401
        assert answer.content_type == "application/problem+json"
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_bootstrap_token_is_an_admin(suite):
    client, _, _ = suite
    answer = client.post(
        "/api/customers/customers", json={"name": "Acme"}, headers=bearer(BOOTSTRAP)
    )
    assert answer.status_code == 201
    assert answer.get_json()["number"] == "C-000001"


def test_roles_come_from_the_token(suite):
    client, gateway, _ = suite
    viewer, clerk = token_for(gateway, "viewer"), token_for(gateway, "clerk")
    assert (
        client.post(
            "/api/customers/customers", json={"name": "X"}, headers=bearer(viewer)
        ).status_code
        == 403
    )
    assert client.get("/api/customers/customers", headers=bearer(viewer)).status_code == 200
    assert (
        client.post(
            "/api/customers/customers", json={"name": "X"}, headers=bearer(clerk)
        ).status_code
        == 201
    )


def test_an_identity_header_from_outside_is_never_trusted(suite):
    client, gateway, _ = suite
    forged = sign_identity("some-other-secret-value", Identity("mallory", "admin"))
    assert (
        client.get("/api/customers/customers", headers={IDENTITY_HEADER: forged}).status_code == 401
    )
    # Even a correctly signed one is dropped at the gateway: only a bearer token counts.
    genuine = sign_identity(gateway.settings.internal_secret, Identity("mallory", "admin"))
    assert (
        client.get("/api/customers/customers", headers={IDENTITY_HEADER: genuine}).status_code
        == 401
    )


def test_probes_and_openapi_need_no_token(suite):
    client, _, _ = suite
    for path in (
        "/api/customers/healthz",
        "/api/customers/readyz",
        "/api/customers/metrics",
        "/api/customers/openapi.json",
        "/healthz",
        "/readyz",
        "/login",
    ):
        assert client.get(path).status_code == 200, path
    # The UI asks for a sign-in instead of a token.
    answer = client.get("/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login")


def test_unknown_service_is_a_404_problem(suite):
    client, _, _ = suite
    answer = client.get("/api/nope/things", headers=bearer(BOOTSTRAP))
    assert answer.status_code == 404
    assert answer.content_type == "application/problem+json"


def test_http_proxy_reaches_a_service_and_its_port_refuses_unsigned_calls(service_factory):
    customers = service_factory("customers")
    server = make_server("127.0.0.1", free_port(), customers.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        gateway = service_factory("gateway", embedded=True, TAMEIO_BOOTSTRAP_TOKEN=BOOTSTRAP)
        app = create_gateway(
            gateway.settings, gateway.db, backends={"customers": HttpBackend("customers", base)}
        )
        client = app.test_client()
        created = client.post(
            "/api/customers/customers", json={"name": "Über GmbH"}, headers=bearer(BOOTSTRAP)
        )
        assert created.status_code == 201
        assert created.get_json()["name"] == "Über GmbH"
        listed = client.get(
            "/api/customers/customers", query_string={"q": "über"}, headers=bearer(BOOTSTRAP)
        )
        assert [c["name"] for c in listed.get_json()["items"]] == ["Über GmbH"]

        import urllib3

        direct = urllib3.request("GET", f"{base}/customers")
        assert direct.status == 401
    finally:
        server.shutdown()


def test_a_service_that_is_down_is_a_503_problem(service_factory):
    gateway = service_factory("gateway", embedded=True, TAMEIO_BOOTSTRAP_TOKEN=BOOTSTRAP)
    down = HttpBackend("customers", f"http://127.0.0.1:{free_port()}")
    app = create_gateway(gateway.settings, gateway.db, backends={"customers": down})
    answer = app.test_client().get("/api/customers/customers", headers=bearer(BOOTSTRAP))
    assert answer.status_code == 503
    assert answer.content_type == "application/problem+json"
    assert "customers" in answer.get_json()["detail"]
