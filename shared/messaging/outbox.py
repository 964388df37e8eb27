"""The transactional outbox writer: events are rows written with the state change."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from shared.clock import isoformat, utcnow
from shared.context import current_trace, new_id
from shared.db import PlatformTables, next_counter
from shared.events import spec_for
from shared.messaging.envelope import to_json


class InvalidEventData(ValueError):
    """A service tried to publish data its own catalog schema rejects (a bug, not input)."""


def append_event(
    session: Session,
    tables: PlatformTables,
    *,
    source: str,
    event_type: str,
    subject: str,
    data: Any,
    version: int = 1,
) -> dict[str, Any]:
    """Serialize ``data`` with the event's catalog schema and add the event to the outbox.

    ``data`` holds Python values (datetimes, Decimals); the returned envelope holds the wire
    form, which callers may reuse as an API answer.

    The per-subject ``sequence`` comes from a counter row updated in the same transaction,
    so events about one subject are numbered and committed in order. Raises
    InvalidEventData if the data does not match the event's schema.
    """
    spec = spec_for(event_type, version)
    schema = spec.instance
    wire_data = json.loads(to_json(schema.dump(data)))
    errors = schema.validate(wire_data)
    if errors:
        raise InvalidEventData(f"{event_type} v{version}: {errors}")
    sequence = next_counter(session, tables.counters, f"seq:{subject}")
    trace = current_trace()
    now = utcnow()
    envelope = {
        "id": new_id(),
        "type": event_type,
        "version": version,
        "occurred_at": isoformat(now),
        "source": source,
        "subject": subject,
        "sequence": sequence,
        "correlation_id": trace.correlation_id,
        "causation_id": trace.causation_id,
        "data": wire_data,
    }
    session.execute(
        tables.outbox.insert().values(
            event_id=envelope["id"],
            event_type=event_type,
            subject=subject,
            sequence=sequence,
            payload=to_json(envelope),
            created_at=now,
        )
    )
    return envelope
