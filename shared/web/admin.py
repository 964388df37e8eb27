"""Dead letters: listed and replayed through every consuming service's admin API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import select, update

from shared.clock import utcnow
from shared.events.fields import Timestamp
from shared.web.auth import requires
from shared.web.blueprint import Blueprint
from shared.web.context import unit_of_work
from shared.web.lists import PageQuery, decode_cursor, encode_cursor, list_response, page_of
from shared.web.problems import conflict, not_found

blp = Blueprint("admin", __name__, url_prefix="/admin", description="Parked events (dead letters)")


class DeadLetterSchema(Schema):
    id = fields.Integer(required=True)
    event_id = fields.String(allow_none=True)
    event_type = fields.String(allow_none=True)
    error = fields.String(required=True)
    attempts = fields.Integer(required=True)
    origin = fields.String(required=True, metadata={"description": "consumer or broker"})
    first_failed_at = Timestamp(required=True)
    parked_at = Timestamp(required=True)
    replayed_at = Timestamp(allow_none=True)
    body = fields.String(required=True, metadata={"description": "the message as received"})


class DeadLetterQuery(PageQuery):
    replayed = fields.Boolean(load_default=False)


@blp.route("/dead-letters")
@requires("admin")
@blp.arguments(DeadLetterQuery, location="query")
@blp.response(200, page_of(DeadLetterSchema))
def list_dead_letters(args: dict[str, Any]) -> Any:
    """Parked events with their error and attempts, newest first."""
    with unit_of_work() as uow:
        table = uow.tables.dead_letters
        stmt = select(table).where(
            table.c.replayed_at.is_not(None) if args["replayed"] else table.c.replayed_at.is_(None)
        )
        if args["cursor"]:
            (after,) = decode_cursor(args["cursor"], [table.c.id])
            stmt = stmt.where(table.c.id < after)
        rows = [
            dict(row._mapping)
            for row in uow.session.execute(
                stmt.order_by(table.c.id.desc()).limit(args["limit"] + 1)
            )
        ]
    next_cursor = (
        encode_cursor([rows[args["limit"] - 1]["id"]]) if len(rows) > args["limit"] else None
    )
    return list_response(
        rows[: args["limit"]], DeadLetterSchema, next_cursor, filename="dead-letters"
    )


@blp.route("/dead-letters/<int:letter_id>/replay", methods=["POST"])
@requires("admin")
@blp.response(202, DeadLetterSchema)
def replay_dead_letter(letter_id: int) -> Any:
    """Hand a parked event back to the worker, which processes it again at once."""
    with unit_of_work() as uow:
        tables = uow.tables
        if letter_id >= 2**63:  # beyond the 64-bit key: no such row, and the query would fail
            raise not_found(f"dead letter {letter_id}")
        row = uow.session.execute(
            select(tables.dead_letters).where(tables.dead_letters.c.id == letter_id)
        ).first()
        if row is None:
            raise not_found(f"dead letter {letter_id}")
        if row.replayed_at is not None:
            raise conflict(f"dead letter {letter_id} was already replayed at {row.replayed_at}")
        now = utcnow()
        uow.session.execute(
            tables.retries.insert().values(
                event_id=row.event_id,
                event_type=row.event_type,
                body=row.body,
                attempts=0,
                first_failed_at=now,
                due_at=now,
                last_error=f"replay of dead letter {letter_id}",
            )
        )
        uow.session.execute(
            update(tables.dead_letters)
            .where(tables.dead_letters.c.id == letter_id)
            .values(replayed_at=now)
        )
        uow.commit()
        return {**row._mapping, "replayed_at": now}
