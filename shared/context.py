"""Per-request / per-message trace context: which request or event caused the current work."""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Trace:
    request_id: str
    correlation_id: str
    causation_id: str | None = None


_current: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "tameio_trace", default=None
)


def new_id() -> str:
    return str(uuid.uuid4())


def active_trace() -> Trace | None:
    """The trace of the request or message in progress, if any."""
    return _current.get()


def current_trace() -> Trace:
    """The trace of the work in progress; a fresh one outside any request or message."""
    trace = _current.get()
    if trace is None:
        rid = new_id()
        trace = Trace(request_id=rid, correlation_id=rid)
    return trace


def set_trace(trace: Trace) -> contextvars.Token[Trace | None]:
    return _current.set(trace)


def reset_trace(token: contextvars.Token[Trace | None]) -> None:
    _current.reset(token)
