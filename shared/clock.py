"""One clock for the suite: business dates in TAMEIO_TIMEZONE, timestamps in UTC.

Anything that depends on "today" takes an explicit ``as_of`` date and only falls back to
``today()`` at the edge (an HTTP request or the scheduler), so jobs can be re-run for a
past day and tested deterministically.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo


def utcnow() -> dt.datetime:
    """The current instant, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def business_timezone() -> ZoneInfo:
    return ZoneInfo(os.environ.get("TAMEIO_TIMEZONE") or "UTC")


def today(tz: ZoneInfo | None = None) -> dt.date:
    """Today's business date in the configured timezone."""
    return utcnow().astimezone(tz or business_timezone()).date()


def isoformat(moment: dt.datetime) -> str:
    """UTC ISO-8601 with a trailing Z, the one timestamp format on the wire."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
