"""``@backpressured``: a money-moving create answers 503 with ``Retry-After`` while a consuming
queue it feeds is deeper than ``TAMEIO_BACKPRESSURE_DEPTH`` (a fresh reading the worker
stored; see shared/messaging/backpressure.py), instead of accepting work the pipeline
cannot apply. A client retries with the same ``Idempotency-Key``.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import flask_smorest
from flask import current_app

from shared.messaging.backpressure import Reading, deepest_fresh_reading
from shared.web.context import service_context
from shared.web.openapi import BACKPRESSURE_MARKER
from shared.web.problems import Problem

F = TypeVar("F", bound=Callable[..., Any])
CACHE_SECONDS = 0.5  # a busy web process reads the table at most twice a second


class ReadingCache:
    """The deepest fresh reading, read from the database at most every ``CACHE_SECONDS``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0
        self._reading: Reading | None = None

    def get(self) -> Reading | None:
        with self._lock:
            if time.monotonic() >= self._until:
                self._reading = deepest_fresh_reading(service_context().db)
                self._until = time.monotonic() + CACHE_SECONDS
            return self._reading

    def forget(self) -> None:
        with self._lock:
            self._until = 0.0


def reading_cache() -> ReadingCache:
    cache: ReadingCache | None = current_app.extensions.get("tameio_backpressure")
    if cache is None:
        cache = current_app.extensions.setdefault("tameio_backpressure", ReadingCache())
    return cache


def check_backpressure() -> None:
    """Raise a 503 Problem if a fresh reading is over the bound; nothing otherwise."""
    settings = service_context().settings
    reading = reading_cache().get()
    if reading is None or reading.depth <= settings.backpressure_depth:
        return
    wait = max(1, math.ceil(settings.backpressure_poll_seconds))
    raise Problem(
        503,
        f"The pipeline is behind: {reading.depth} messages wait in {reading.queue} "
        f"(bound {settings.backpressure_depth}); nothing was recorded. Try again in {wait} s "
        "with the same Idempotency-Key.",
        title="Busy",
        headers={"Retry-After": str(wait)},
    )


def backpressured(view: F) -> F:
    """Check backpressure before the view runs (after authentication and validation)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_backpressure()
        return view(*args, **kwargs)

    documented = flask_smorest.Blueprint.doc(**{BACKPRESSURE_MARKER: True})(wrapper)
    return documented
