"""Reporting consumes every event (``#``) into its raw event log and its read models."""

from __future__ import annotations

import json
from typing import cast

from sqlalchemy import Table

from services.reporting.commands import project
from services.reporting.models import LoggedEvent
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.messaging import Event
from shared.messaging.envelope import to_json

EVENT_LOG = cast(Table, LoggedEvent.__table__)


def record_event(uow: UnitOfWork, event: Event) -> None:
    """Keep the event whole and apply it to the read models; the inbox makes it once."""
    envelope = {
        "id": event.id,
        "type": event.type,
        "version": event.version,
        "occurred_at": event.occurred_at,
        "source": event.source,
        "subject": event.subject,
        "sequence": event.sequence,
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "data": event.raw_data,
    }
    body = to_json(envelope)
    project(uow, json.loads(body))
    uow.session.execute(
        EVENT_LOG.insert(),
        {
            "event_id": event.id,
            "event_type": event.type,
            "version": event.version,
            "source": event.source,
            "subject": event.subject,
            "sequence": event.sequence,
            "occurred_at": event.occurred_at,
            "received_at": utcnow(),
            "envelope": body,
        },
    )


HANDLERS = {"#": record_event}
