"""The gateway's edge (issue 16): login throttling, body size before authentication,
chunked bodies, security headers on its own answers."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url
from werkzeug.serving import make_server

from services.gateway.app import create_app as create_gateway
from services.gateway.routing import HttpBackend
from services.gateway.throttle import retry_after
from shared.clock import utcnow
from tests.support.realmode import free_port
from tests.support.tcpproxy import TcpProxy

BOOTSTRAP = "bootstrap-token-for-tests"
MB = 1024 * 1024


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def suite(service_factory):
    customers = service_factory("customers", broker="memory://")

    def make(**env: str) -> Any:
        gateway = service_factory("gateway", embedded=True, TAMEIO_BOOTSTRAP_TOKEN=BOOTSTRAP, **env)
        app = create_gateway(
            gateway.settings, gateway.db, backends={"customers": customers.app.wsgi_app}
        )
        return app.test_client()

    return make


def test_the_eleventh_invalid_credential_in_a_minute_is_429_even_with_a_valid_token(suite):
    client = suite()
    for attempt in range(10):
        answer = client.get("/api/customers/customers", headers=bearer(f"guess-{attempt}"))
        assert answer.status_code == 401, attempt

    throttled = client.get("/api/customers/customers", headers=bearer("guess-11"))
    valid = client.get("/api/customers/customers", headers=bearer(BOOTSTRAP))

    assert throttled.status_code == valid.status_code == 429
    assert throttled.mimetype == "application/problem+json"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    other = client.get(
        "/api/customers/customers",
        headers=bearer(BOOTSTRAP),
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert other.status_code == 200, "another client is not throttled"
    assert client.get("/api/customers/healthz").status_code == 200, "probes need no credentials"


def test_behind_trusted_proxies_the_client_is_the_forwarded_hop(suite):
    client = suite(TAMEIO_TRUSTED_PROXIES="1")
    attacker = {"X-Forwarded-For": "203.0.113.7, 198.51.100.1"}
    for attempt in range(10):
        headers = {**bearer(f"guess-{attempt}"), **attacker}
        assert client.get("/api/customers/customers", headers=headers).status_code == 401

    assert (
        client.get(
            "/api/customers/customers", headers={**bearer(BOOTSTRAP), **attacker}
        ).status_code
        == 429
    )
    colleague = {"X-Forwarded-For": "203.0.113.7, 198.51.100.2"}
    assert (
        client.get(
            "/api/customers/customers", headers={**bearer(BOOTSTRAP), **colleague}
        ).status_code
        == 200
    )


def test_retry_after_counts_from_the_failure_that_must_leave_the_window():
    now = utcnow()
    from datetime import timedelta

    failures = [now - timedelta(seconds=50 - i) for i in range(10)]
    assert retry_after(failures, now) == 10
    assert retry_after(failures[1:], now) is None


def test_a_body_over_one_megabyte_is_413_before_the_token_is_checked(suite):
    client = suite()
    big = b"x" * (MB + 1)
    for path in ("/api/customers/customers", "/api/customers/healthz", "/"):
        answer = client.post(path, data=big, content_type="application/json")
        assert answer.status_code == 413, path
        assert answer.mimetype == "application/problem+json"


def test_gateway_answers_carry_the_security_headers_and_html_a_csp(suite):
    client = suite(TAMEIO_PUBLIC_URL="https://ar.example.com")
    page = client.get("/")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    for answer in (
        page,
        client.get("/api/customers/customers"),  # the router's own 401
        client.get("/api/nope/x"),
        client.get("/api/customers/customers", headers=bearer(BOOTSTRAP)),
    ):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Referrer-Policy"]
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.fixture
def over_http(service_factory) -> Iterator[int]:
    """gateway -> HttpBackend -> customers, both on real HTTP servers; yields the gateway port."""
    customers = service_factory("customers", broker="memory://")
    backend_server = make_server("127.0.0.1", free_port(), customers.app, threaded=True)
    gateway = service_factory("gateway", embedded=True, TAMEIO_BOOTSTRAP_TOKEN=BOOTSTRAP)
    base = f"http://127.0.0.1:{backend_server.server_port}"
    app = create_gateway(
        gateway.settings, gateway.db, backends={"customers": HttpBackend("customers", base)}
    )
    gateway_server = make_server("127.0.0.1", free_port(), app, threaded=True)
    for server in (backend_server, gateway_server):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield gateway_server.server_port
    for server in (backend_server, gateway_server):
        server.shutdown()


def post_chunked(port: int, chunks: list[bytes]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            "/api/customers/customers",
            body=iter(chunks),
            headers={**bearer(BOOTSTRAP), "Content-Type": "application/json"},
            encode_chunked=True,
        )
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def test_a_chunked_body_is_forwarded_and_cut_at_one_megabyte(over_http):
    status, body = post_chunked(over_http, [b'{"name": ', b'"Chunked Ltd"}'])
    assert status == 201, body

    status, body = post_chunked(over_http, [b'{"name": "', *[b"x" * (64 * 1024)] * 17, b'"}'])
    assert status == 413, body[:300]


def _gateway_on(service_factory, customers: Any, database_url: str | None = None) -> Any:
    gateway = service_factory("gateway", TAMEIO_BOOTSTRAP_TOKEN=BOOTSTRAP)
    settings = gateway.settings
    if database_url is not None:
        settings = settings.with_overrides(database_url=database_url)
    db = gateway.definition.database(settings)
    app = create_gateway(settings, db, backends={"customers": customers.app.wsgi_app})
    return gateway, db, app.test_client()


def test_a_token_checked_on_a_connection_the_server_ended_is_checked_again_on_a_fresh_one(
    service_factory,
):
    customers = service_factory("customers", broker="memory://")
    gateway, db, client = _gateway_on(service_factory, customers)
    try:
        assert client.get("/api/customers/customers", headers=bearer("wrong")).status_code == 401
        direct = make_url(gateway.db.url).set(drivername="postgresql").render_as_string(False)
        with psycopg.connect(direct, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

        answer = client.get("/api/customers/customers", headers=bearer(BOOTSTRAP))

        assert answer.status_code == 200, answer.get_data(as_text=True)
    finally:
        db.dispose()


def test_the_gateways_database_away_is_503_problem_not_a_crash(service_factory):
    customers = service_factory("customers", broker="memory://")
    url = make_url(service_factory("gateway").db.url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    _, db, client = _gateway_on(service_factory, customers, proxied)
    try:
        assert client.get("/api/customers/customers", headers=bearer("wrong")).status_code == 401
        proxy.cut()
        answer = client.get("/api/customers/customers", headers=bearer(BOOTSTRAP))
        assert answer.status_code == 503
        assert answer.mimetype == "application/problem+json"
        assert answer.headers["Retry-After"] == "2"
        proxy.restore()
        assert client.get("/api/customers/customers", headers=bearer(BOOTSTRAP)).status_code == 200
    finally:
        db.dispose()
        proxy.close()
