"""What the relay and the consumer share: a broker connection kept up with back-off."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kombu import Connection

log = logging.getLogger(__name__)


def broker_connection(url: str, *, heartbeat: float = 0) -> Connection:
    """A kombu connection; the in-process memory:// broker is polled every 50 ms."""
    options: dict[str, Any] = {"connect_timeout": 5}
    if url.startswith("memory://"):
        options["transport_options"] = {"polling_interval": 0.05}
        heartbeat = 0
    return Connection(url, heartbeat=heartbeat, **options)


class FailureLog:
    """Says that something keeps failing without filling the log: the first failure at
    once, with its cause, then a summary at most once per ``every`` seconds, and the
    recovery when it comes (the stack trace only at debug level)."""

    def __init__(self, label: str, every: float = 60.0) -> None:
        self.label = label
        self.every = every
        self.failures = 0  # since the last success
        self.last_error: str | None = None
        self._said_at = 0.0
        self._unsaid = 0

    def failed(self, exc: BaseException, doing: str) -> None:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        now = time.monotonic()
        if self.failures == 1 or now - self._said_at >= self.every:
            again = f" ({self._unsaid + 1} failures since last said)" if self.failures > 1 else ""
            log.warning("%s: %s%s; %s", self.label, self.last_error, again, doing)
            log.debug("%s failed", self.label, exc_info=exc)
            self._said_at, self._unsaid = now, 0
        else:
            self._unsaid += 1

    def succeeded(self) -> None:
        if self.failures:
            log.warning("%s: working again after %d failures", self.label, self.failures)
        self.failures, self._unsaid = 0, 0


class BrokerLink:
    """Runs :meth:`session` until stopped, starting over with growing back-off after a failure.

    Subclasses open their own connection inside ``session`` (connections are never shared
    between threads) and return when ``stop`` is set. ``state``, ``restarts`` and
    ``last_error`` say how it is doing, for the worker's status and ``/metrics``.
    """

    def __init__(self, broker_url: str, label: str) -> None:
        self.broker_url = broker_url
        self.label = label
        self.connected = False
        self.state = "starting"
        self.restarts = 0
        self.failures = FailureLog(self.label)

    @property
    def last_error(self) -> str | None:
        return self.failures.last_error

    @property
    def uses_memory_transport(self) -> bool:
        return self.broker_url.startswith("memory://")

    def session(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def run(self, stop: threading.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                self.session(stop)
                backoff = 0.5
            except Exception as exc:  # broker or database trouble: wait, then start over
                self.connected = False
                self.restarts += 1
                self.state = "restarting"
                self.failures.failed(exc, f"starting over in {backoff:.1f}s")
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        self.connected = False
        self.state = "stopped"
