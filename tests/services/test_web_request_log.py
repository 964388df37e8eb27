"""Every HTTP request is logged once, in one line: method, path, status, milliseconds and
the request id (issue 17)."""

from __future__ import annotations

import logging
import re


def test_every_request_is_logged_once_in_one_line(service_factory, caplog):
    customers = service_factory("customers", embedded=True)
    caplog.set_level(logging.INFO, logger="tameio.http")

    answer = customers.client("viewer").get("/customers", headers={"X-Request-ID": "req-42"})
    customers.client("viewer").get("/customers/not-a-uuid", headers={"X-Request-ID": "req-43"})

    lines = [r.getMessage() for r in caplog.records if r.name == "tameio.http"]
    assert len(lines) == 2
    assert re.fullmatch(rf"GET /customers {answer.status_code} \d+ ms req-42", lines[0])
    assert re.fullmatch(r"GET /customers/not-a-uuid 404 \d+ ms req-43", lines[1])
