"""Who a bearer token is, remembered per process for a few seconds: one look-up per token
per TTL instead of one per request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from services.gateway import queries
from services.gateway.domain import token_hash
from shared.db import Database
from shared.web.auth import Identity


class TokenCache:
    """Recently checked tokens (valid or not) for a few seconds. A revoked token stops
    working within the TTL, or at once in the process that revoked it (``forget``)."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Identity | None]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> tuple[bool, Identity | None]:
        key = token_hash(token)
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, token: str, identity: Identity | None) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[token_hash(token)] = (time.monotonic() + self.ttl, identity)

    def forget(self, hashed: str) -> None:
        """Drop a token (by its SHA-256) at once, e.g. when it was revoked here."""
        with self._lock:
            self._entries.pop(hashed, None)


def token_identity(
    db: Database, bootstrap_token: str | None, cache: TokenCache
) -> Callable[[str], Identity | None]:
    """Who an API token is (None: nobody), remembered in ``cache`` for a few seconds."""

    def identify(token: str) -> Identity | None:
        known, identity = cache.get(token)
        if not known:
            with db.unit_of_work() as uow:
                identity = queries.identify_token(uow.session, token, bootstrap_token)
            cache.put(token, identity)
        return identity

    return identify
