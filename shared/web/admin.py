"""Dead letters: listed and replayed through every consuming service's admin API."""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import Schema, fields
from sqlalchemy import func, select, update

from shared.clock import utcnow
from shared.events.fields import Timestamp
from shared.web.auth import requires
from shared.web.blueprint import Blueprint
from shared.web.context import unit_of_work
from shared.web.lists import PageQuery, decode_cursor, encode_cursor, list_response, page_of
from shared.web.problems import conflict, not_found

MAX_ID = 2**63  # dead letters have 64-bit keys

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
    body_preview = fields.String(
        required=True,
        metadata={
            "description": "the first 4 KiB of the message as received; bytes that are not "
            "printable UTF-8 are written as backslash escapes (the exact bytes: /body)"
        },
    )
    body_size = fields.Integer(required=True, metadata={"description": "the message's bytes"})


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
        columns = [c for c in table.c if c.name != "body"]
        stmt = select(
            *columns,
            func.substr(table.c.body, 1, PREVIEW_BYTES).label("preview"),
            func.length(table.c.body).label("body_size"),
        ).where(
            table.c.replayed_at.is_not(None) if args["replayed"] else table.c.replayed_at.is_(None)
        )
        if args["cursor"]:
            (after,) = decode_cursor(args["cursor"], [table.c.id])
            stmt = stmt.where(table.c.id < after)
        rows = [
            {**row._mapping, "body_preview": preview(row.preview)}
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


@blp.route("/dead-letters/<int:letter_id>/body")
@requires("admin")
@blp.response(200, content_type="application/octet-stream", description="The message's exact bytes")
def dead_letter_body(letter_id: int) -> Any:
    """The parked message exactly as it was received, byte for byte."""
    if letter_id >= MAX_ID:  # beyond the 64-bit key: no such row, and the query would fail
        raise not_found(f"dead letter {letter_id}")
    with unit_of_work() as uow:
        table = uow.tables.dead_letters
        body = uow.session.execute(select(table.c.body).where(table.c.id == letter_id)).scalar()
    if body is None:
        raise not_found(f"dead letter {letter_id}")
    return Response(
        bytes(body),
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="dead-letter-{letter_id}.bin"'},
    )


@blp.route("/dead-letters/<int:letter_id>/replay", methods=["POST"])
@requires("admin")
@blp.response(202, DeadLetterSchema)
def replay_dead_letter(letter_id: int) -> Any:
    """Hand a parked event back to the worker, which processes it again at once."""
    with unit_of_work() as uow:
        tables = uow.tables
        if letter_id >= MAX_ID:  # beyond the 64-bit key: no such row, and the query would fail
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
        body = bytes(row.body)
        return {
            **row._mapping,
            "replayed_at": now,
            "body_preview": preview(body[:PREVIEW_BYTES]),
            "body_size": len(body),
        }


PREVIEW_BYTES = 4096
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(32), 127] if chr(c) not in "\n\t"}


def preview(body: bytes | str | None) -> str:
    """Bytes shown as text: UTF-8 where they are, backslash escapes for the rest (bytes
    that are not UTF-8, and control characters such as NUL)."""
    if body is None:
        return ""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    return raw.decode("utf-8", "backslashreplace").translate(_CONTROL)
