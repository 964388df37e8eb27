"""The transactional outbox writer: events are rows written with the state change.

An event is built and checked against its catalog schema when the service emits it, and
written when the unit of work commits: all the events of one transaction take their
per-subject sequence numbers in one counter statement and become outbox rows in one
INSERT, whatever their number. Counter rows are locked in name order just before the
commit, so concurrent writers of the same subjects hold those locks briefly and never in
opposite orders.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Sequence
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import Connection, Select, Table, func, select
from sqlalchemy.orm import Session

from shared.clock import isoformat, utcnow
from shared.context import current_trace, new_id
from shared.events import spec_for
from shared.messaging.envelope import to_json
from shared.tables import PlatformTables, dialect_insert


class InvalidEventData(ValueError):
    """A service tried to publish data its own catalog schema rejects (a bug, not input)."""


def new_envelope(
    *, source: str, event_type: str, subject: str, data: Any, version: int = 1
) -> dict[str, Any]:
    """Serialize ``data`` with the event's catalog schema into an envelope whose
    ``sequence`` is filled in by :func:`write_outbox`.

    ``data`` holds Python values (datetimes, Decimals); the envelope holds the wire form,
    which callers may reuse as an API answer. Raises InvalidEventData if the data does not
    match the event's schema.
    """
    try:
        # Compiled once: marshmallow's dump, then JSON and back, checked as a consumer will.
        wire_data = spec_for(event_type, version).dumper.dump(data)
    except ValidationError as exc:
        raise InvalidEventData(f"{event_type} v{version}: {exc.messages}") from None
    return _envelope(source, event_type, subject, wire_data, version)


def dumped_envelope(
    *, source: str, event_type: str, subject: str, wire_data: dict[str, Any], version: int = 1
) -> dict[str, Any]:
    """An envelope around data already in its wire form and checked: made only of parts that
    were (another version's wire data, rows the database wrote in the form the dumper
    writes, which a test holds to it). Not dumped or checked again."""
    spec_for(event_type, version)  # a type and version of the catalog
    return _envelope(source, event_type, subject, wire_data, version)


def _envelope(
    source: str, event_type: str, subject: str, wire_data: dict[str, Any], version: int
) -> dict[str, Any]:
    trace = current_trace()
    return {
        "id": new_id(),
        "type": event_type,
        "version": version,
        "occurred_at": isoformat(utcnow()),
        "source": source,
        "subject": subject,
        "sequence": None,
        "correlation_id": trace.correlation_id,
        "causation_id": trace.causation_id,
        "data": wire_data,
    }


@functools.cache
def unpublished(outbox: Table) -> Select[int, Any]:
    """How many events wait for the relay, and when the oldest was written; built once per
    table (the partial index on unpublished rows keeps it cheap)."""
    return select(func.count(), func.min(outbox.c.created_at)).where(
        outbox.c.published_at.is_(None)
    )


def count_unpublished(conn: Connection, outbox: Table) -> tuple[int, dt.datetime | None]:
    """:func:`unpublished`, read in ``conn``'s transaction. On PostgreSQL through a plain
    index scan (for this transaction only): until a vacuum, the indexes keep an entry for
    every row published since, and a bitmap scan read the table for each of them at every
    reading (15 ms at 20,000 rows), where an index scan marks them dead once (decision 96)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    waiting, oldest = conn.execute(unpublished(outbox)).one()
    return int(waiting), oldest


@functools.cache
def _sequence_upsert(counters: Table, insert: Any) -> Any:
    """Built once per counters table: every commit with events runs it."""
    upsert = insert(counters)
    return upsert.on_conflict_do_update(
        index_elements=[counters.c.name], set_={"value": counters.c.value + upsert.excluded.value}
    ).returning(counters.c.name, counters.c.value)


def _next_sequences(
    session: Session | Connection, tables: PlatformTables, subjects: Sequence[str]
) -> list[int]:
    """One sequence number per entry of ``subjects`` (repeats get consecutive numbers), taken
    from the per-subject counters in one round trip."""
    wanted = Counter(f"seq:{subject}" for subject in subjects)
    upsert = _sequence_upsert(tables.counters, dialect_insert(session))
    # A list of parameter sets keeps the statement the same whatever the number of subjects,
    # so SQLAlchemy compiles it once; it still goes to the database as one multi-row INSERT.
    rows = session.execute(upsert, [{"name": n, "value": wanted[n]} for n in sorted(wanted)])
    last = {name: int(value) for name, value in rows}
    given: Counter[str] = Counter()
    numbers = []
    for subject in subjects:
        name = f"seq:{subject}"
        given[name] += 1
        numbers.append(last[name] - wanted[name] + given[name])
    return numbers


def write_outbox(
    session: Session | Connection, tables: PlatformTables, envelopes: Sequence[dict[str, Any]]
) -> None:
    """Number ``envelopes`` per subject (in the order given) and add them to the outbox."""
    if not envelopes:
        return
    numbers = _next_sequences(session, tables, [envelope["subject"] for envelope in envelopes])
    now = utcnow()
    rows = []
    for envelope, number in zip(envelopes, numbers, strict=True):
        envelope["sequence"] = number
        rows.append(
            {
                "event_id": envelope["id"],
                "event_type": envelope["type"],
                "subject": envelope["subject"],
                "sequence": number,
                "version": envelope["version"],
                "payload": to_json(envelope),
                "created_at": now,
            }
        )
    session.execute(tables.outbox.insert(), rows)
