"""Reporting consumes every event (``#``) into its raw event log and its read models."""

from __future__ import annotations

import functools
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from services.reporting.commands import project
from services.reporting.models import LoggedEvent
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.messaging import Event
from shared.messaging.consumer import handles_versions
from shared.messaging.envelope import json_default, to_json

EVENT_LOG = cast(Table, LoggedEvent.__table__)
EVENT_LOG_ROWS = "reporting.event_log"  # the unit of work's collection of log rows


def record_event(uow: UnitOfWork, event: Event) -> None:
    """Keep the event whole and apply it to the read models; the inbox makes it once. The
    log rows of a batch's events are written in one statement when it commits."""
    envelope = {
        "id": event.id,
        "type": event.type,
        "version": event.version,
        "occurred_at": json_default(event.occurred_at),
        "source": event.source,
        "subject": event.subject,
        "sequence": event.sequence,
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "data": event.raw_data,  # as it came: JSON values, the wire form projections read
    }
    body = to_json(envelope)
    project(uow, envelope)
    uow.collect(EVENT_LOG_ROWS, functools.partial(_write_log, uow.session)).append(
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
        }
    )


def _write_log(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(EVENT_LOG.insert(), rows)


@handles_versions(2)
def record_invoice_update(uow: UnitOfWork, event: Event) -> None:
    """billing.invoice.updated: version 2 only, like every other subscriber (decision 89).
    Version 1 is version 2 plus every payment of the invoice, which ``billing.payment.applied``
    carries anyway: logging it made each payment cost more than the one before."""
    record_event(uow, event)


HANDLERS = {"#": record_event, "billing.invoice.updated": record_invoice_update}
