"""Login throttling: a client that presents invalid credentials too often is refused for a
while, before its credentials are even checked. Failures are rows in the gateway's database,
so every gateway process sees them (the bootstrap token is chosen by a person and can be
guessed)."""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, select

from services.gateway.models import LoginFailure
from shared.clock import utcnow
from shared.db import Database

FAILURES_ALLOWED = 10
WINDOW_SECONDS = 60
# A "not throttled" answer is reused this long per process: one query per client per second
# instead of one per request. Failures seen by this process clear it at once.
CLEAN_SECONDS = 1.0


def client_address(environ: dict[str, Any], trusted_proxies: int) -> str:
    """The client: the peer, or behind ``trusted_proxies`` proxies the Nth X-Forwarded-For
    hop from the right (the one the outermost trusted proxy saw)."""
    peer = str(environ.get("REMOTE_ADDR") or "unknown")
    if trusted_proxies <= 0:
        return peer[:100]
    hops = [hop.strip() for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if not hops:
        return peer[:100]
    return hops[-trusted_proxies if len(hops) >= trusted_proxies else 0][:100]


def retry_after(failures: Sequence[dt.datetime], now: dt.datetime) -> int | None:
    """Seconds until a client with these failure times (within the window, oldest first) may
    try again, or None if it may now: the FAILURES_ALLOWED-th newest must leave the window."""
    if len(failures) < FAILURES_ALLOWED:
        return None
    frees_at = failures[-FAILURES_ALLOWED] + dt.timedelta(seconds=WINDOW_SECONDS)
    return min(WINDOW_SECONDS, max(1, math.ceil((frees_at - now).total_seconds())))


# Built once: a client's failures within the window, oldest first (a plain connection, no
# ORM session: this runs for a client at least once a second).
_failures = LoginFailure.__table__.c
RECENT_FAILURES = (
    select(_failures.failed_at)
    .where(
        _failures.client == bindparam("client"),
        _failures.failed_at > bindparam("since", type_=_failures.failed_at.type),
    )
    .order_by(_failures.failed_at)
)


class LoginThrottle:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._clean_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, client: str) -> int | None:
        """Seconds the client must wait before presenting credentials again, or None."""
        with self._lock:
            if self._clean_until.get(client, 0.0) > time.monotonic():
                return None
        now = utcnow()
        since = now - dt.timedelta(seconds=WINDOW_SECONDS)
        with self.db.engine.connect() as conn:
            failures = list(
                conn.execute(RECENT_FAILURES, {"client": client, "since": since}).scalars()
            )
            conn.rollback()
        wait = retry_after(failures, now)
        if wait is None and len(failures) < FAILURES_ALLOWED - 1:
            with self._lock:
                if len(self._clean_until) > 10_000:
                    self._clean_until.clear()
                self._clean_until[client] = time.monotonic() + CLEAN_SECONDS
        return wait

    def failed(self, client: str) -> None:
        """Record one invalid API credential from ``client`` (and forget expired ones; the
        staff UI's sign-in failures, which name an email, are kept longer and cleared by
        the UI)."""
        with self._lock:
            self._clean_until.pop(client, None)
        now = utcnow()
        with self.db.unit_of_work() as uow:
            uow.session.execute(
                delete(LoginFailure).where(
                    LoginFailure.email.is_(None),
                    LoginFailure.failed_at <= now - dt.timedelta(seconds=WINDOW_SECONDS),
                )
            )
            uow.session.add(LoginFailure(client=client, failed_at=now))
            uow.commit()
