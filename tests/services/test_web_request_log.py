"""Every HTTP request is logged once, in one line: method, path, status, milliseconds and
the request id, which the line names once (issue 17); the gateway logs what it answers
itself (a 401, an unknown service) like every other request."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

from services.gateway.app import create_app as create_gateway
from shared.logs import trace_handler


@pytest.fixture
def http_lines() -> Iterator[io.StringIO]:
    """The tameio.http lines exactly as the console prints them."""
    stream = io.StringIO()
    handler = trace_handler(stream)
    logger = logging.getLogger("tameio.http")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def lines_of(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_every_request_is_logged_once_in_one_line(service_factory, http_lines):
    customers = service_factory("customers", embedded=True)

    answer = customers.client("viewer").get("/customers", headers={"X-Request-ID": "req-42"})
    customers.client("viewer").get("/customers/not-a-uuid", headers={"X-Request-ID": "req-43"})

    first, second = lines_of(http_lines)
    assert re.search(
        rf"\[req=req-42 corr=req-42\] GET /customers {answer.status_code} \d+ ms$", first
    )
    assert re.search(r"\[req=req-43 corr=req-43\] GET /customers/not-a-uuid 404 \d+ ms$", second)
    for line, request_id in ((first, "req-42"), (second, "req-43")):
        assert line.count(request_id) == 2  # once as the request id, once as the correlation


def test_the_gateway_logs_the_requests_it_refuses_itself(service_factory, http_lines):
    gateway = service_factory("gateway", embedded=True)
    never = {"customers": lambda environ, start_response: pytest.fail("reached customers")}
    client = create_gateway(gateway.settings, gateway.db, backends=never).test_client()

    refused = client.get("/api/customers/customers", headers={"X-Request-ID": "req-401"})
    unknown = client.get(
        "/api/nowhere/things", headers={"X-Request-ID": "req-404", "Authorization": "Bearer x"}
    )

    assert (refused.status_code, unknown.status_code) == (401, 404)
    assert refused.headers["X-Request-ID"] == "req-401"
    first, second = lines_of(http_lines)
    assert re.search(
        r"\[req=req-401 corr=req-401\] GET /api/customers/customers 401 \d+ ms$", first
    )
    assert re.search(r"\[req=req-404 corr=req-404\] GET /api/nowhere/things 404 \d+ ms$", second)
