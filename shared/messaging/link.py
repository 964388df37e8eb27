"""What the relay and the consumer share: a broker connection kept up with back-off."""

from __future__ import annotations

import logging
import threading
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


class BrokerLink:
    """Runs :meth:`session` until stopped, starting over with growing back-off after a failure.

    Subclasses open their own connection inside ``session`` (connections are never shared
    between threads) and return when ``stop`` is set.
    """

    label = "link"

    def __init__(self, broker_url: str) -> None:
        self.broker_url = broker_url
        self.connected = False
        self.last_error: str | None = None

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
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("%s: %s; starting over in %.1fs", self.label, self.last_error, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        self.connected = False
