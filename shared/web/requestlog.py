"""One log line per HTTP request: method, path, status and milliseconds. The request id is
not in the message: every line's trace prefix (shared/logs.py) already names it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from shared.context import Trace, new_id, reset_trace, set_trace

requests_log = logging.getLogger("tameio.http")


def log_request(method: str, path: str, status: int, started: float) -> None:
    """Log a finished request that began at ``time.perf_counter()`` = ``started``."""
    elapsed = (time.perf_counter() - started) * 1000
    requests_log.info("%s %s %s %.0f ms", method, path, status, elapsed)


def answered_at_the_edge(
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    answer: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
) -> Iterable[bytes]:
    """Run ``answer`` (a WSGI app the router answers with itself: a refusal, an unknown
    service) and log the request as a service logs the ones it answers, under the caller's
    request id (or a new one), which the answer also carries."""
    started = time.perf_counter()
    request_id = (environ.get("HTTP_X_REQUEST_ID") or new_id())[:100]
    correlation = (environ.get("HTTP_X_CORRELATION_ID") or request_id)[:100]
    statuses: list[str] = []

    def remember(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)
        return start_response(status, [*headers, ("X-Request-ID", request_id)], exc_info)

    body = answer(environ, remember)
    token = set_trace(Trace(request_id=request_id, correlation_id=correlation))
    try:
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        status = int(statuses[0].split()[0]) if statuses else 500
        log_request(environ.get("REQUEST_METHOD", "GET"), path, status, started)
    finally:
        reset_trace(token)
    return body
