"""Lists: cursor (keyset) pagination, the page envelope, and ``?format=csv``.

Every list endpoint answers through :func:`list_response` (JSON, or CSV when asked); a list
of rows pages through :func:`list_page`, given its :class:`Listing` (the unique sort key,
the item schema, the CSV file name) and a function that turns one page of rows into items,
so the rows' related data is loaded once per page, not once per row.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Response, has_request_context, request
from marshmallow import Schema, fields, post_load, validate
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from shared.messaging.envelope import json_default
from shared.web.inputs import loads as safe_loads
from shared.web.problems import invalid
from shared.web.schemas import DECIMAL_PATTERN, RequestSchema

MAX_LIMIT = 500
_NUMBER = re.compile(DECIMAL_PATTERN, re.ASCII)
MAX_CURSOR_CHARS = 1000
CSV_LIMIT = 100_000


def BomFlag() -> fields.Boolean:
    """``?bom=0`` leaves the byte order mark out of a CSV export (for tools that choke on
    it); by default it is there, so spreadsheets read the UTF-8 (Greek names) right."""
    return fields.Boolean(
        load_default=True,
        metadata={"description": "CSV only: false leaves out the UTF-8 byte order mark"},
    )


def wants_bom() -> bool:
    """Whether this request's CSV starts with a byte order mark (``bom`` not false; outside
    a request: yes)."""
    if not has_request_context():
        return True
    return request.args.get("bom", "1").strip().lower() not in {"0", "false", "no", "off"}


class PageQuery(RequestSchema):
    """Query arguments every list accepts. A CSV export without an explicit ``limit`` is the
    whole list (up to CSV_LIMIT rows), not one page."""

    limit = fields.Integer(validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))
    bom = BomFlag()

    @post_load
    def _default_limit(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "limit" not in data:
            data["limit"] = CSV_LIMIT if data.get("format") == "csv" or wants_csv() else 50
        return data


_PAGE_SCHEMAS: dict[type[Schema], type[Schema]] = {}


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The response schema ``{"items": [...], "next_cursor": ...}`` for one item schema."""
    if item_schema not in _PAGE_SCHEMAS:
        name = item_schema.__name__.removesuffix("Schema") + "Page"
        _PAGE_SCHEMAS[item_schema] = type(
            name,
            (Schema,),
            {
                "items": fields.List(fields.Nested(item_schema), required=True),
                "next_cursor": fields.String(allow_none=True, required=True),
            },
        )
    return _PAGE_SCHEMAS[item_schema]


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), default=json_default, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, columns: Sequence[Any]) -> list[Any]:
    """Values of the sort columns from a cursor; a 422 naming ``cursor`` if it is not ours."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        values = safe_loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError("wrong length")
        return [_typed(value, column) for value, column in zip(values, columns, strict=True)]
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise invalid("cursor", "Not a cursor from this list.") from exc


def _typed(value: Any, column: ColumnElement[Any]) -> Any:
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return value
    if python_type is dt.datetime:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("cursor timestamps carry their offset")
        return moment
    if python_type is dt.date:
        return dt.date.fromisoformat(str(value))
    if python_type is uuid.UUID:
        return uuid.UUID(str(value))
    if python_type is str:
        if not isinstance(value, str) or "\x00" in value:
            raise TypeError("not a storable string")
        value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError
    if python_type is int:
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**63:
            raise TypeError("not a 64-bit integer")
        return value
    return value


def keyset_page(
    session: Session,
    stmt: Select[Any],
    columns: Sequence[Any],
    *,
    limit: int,
    cursor: str | None,
    descending: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of ``stmt`` ordered by ``columns`` (mapped attributes that together are a
    unique key), after ``cursor``; the next cursor holds the last row's values of them.

    Keyset pagination returns every row exactly once even while rows are inserted.
    """
    if cursor:
        after = decode_cursor(cursor, columns)
        row_key = tuple_(*columns)
        stmt = stmt.where(row_key < tuple_(*after) if descending else row_key > tuple_(*after))
    order = [column.desc() if descending else column.asc() for column in columns]
    rows = list(session.execute(stmt.order_by(*order).limit(limit + 1)).scalars())
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor([getattr(rows[limit - 1], c.key) for c in columns])
    return rows[:limit], next_cursor


@dataclass(frozen=True)
class Listing:
    """One list endpoint: its rows' unique sort key, their order, the item schema and the
    CSV file name."""

    order_by: tuple[Any, ...]
    schema: type[Schema]
    filename: str
    descending: bool = False


def snapshots(rows: list[Any]) -> list[dict[str, Any]]:
    """Items of rows that answer for themselves (``row.snapshot()``)."""
    return [row.snapshot() for row in rows]


def list_page(
    session: Session,
    stmt: Select[Any],
    listing: Listing,
    args: Mapping[str, Any],
    items: Callable[[list[Any]], list[dict[str, Any]]],
) -> Any:
    """The page of ``stmt`` that ``args`` (a :class:`PageQuery`) asks for, its rows turned
    into items by ``items`` (one call per page), as JSON or CSV."""
    rows, next_cursor = keyset_page(
        session,
        stmt,
        listing.order_by,
        limit=args["limit"],
        cursor=args["cursor"],
        descending=listing.descending,
    )
    return list_response(items(rows), listing.schema, next_cursor, filename=listing.filename)


def wants_csv() -> bool:
    if request.args.get("format") == "csv":
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return (
        best == "text/csv"
        and request.accept_mimetypes["application/json"] < request.accept_mimetypes["text/csv"]
    )


def _flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value, default=json_default, ensure_ascii=False)
        else:
            flat[name] = "" if value is None else value
    return flat


def schema_columns(schema: Schema, prefix: str = "") -> list[str]:
    """CSV columns of a schema: nested objects as dotted columns, fixed whatever the data."""
    columns: list[str] = []
    for name, field in schema.fields.items():
        if isinstance(field, fields.Nested) and not field.many and isinstance(field.schema, Schema):
            columns += schema_columns(field.schema, f"{prefix}{name}.")
        else:
            columns.append(f"{prefix}{name}")
    return columns


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell safe to open in a spreadsheet: text that a spreadsheet would run as a formula
    gets a leading ``'``; numbers the service wrote (``-12.50``) stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def csv_response(
    rows: Sequence[Mapping[str, Any]], filename: str, columns: Sequence[str]
) -> Response:
    """Rows (nested dicts flattened to dotted columns) as a UTF-8 CSV download with
    ``columns``, starting with a byte order mark unless the request says ``bom=0``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\r\n"
    )
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in _flatten(row).items()} for row in rows)
    text = ("\ufeff" if wants_bom() else "") + buffer.getvalue()
    response = Response(text.encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def list_response(
    items: Sequence[Any],
    item_schema: type[Schema] | None,
    next_cursor: str | None = None,
    *,
    filename: str,
    columns: Sequence[str] | None = None,
    body: Mapping[str, Any] | None = None,
) -> Any:
    """The list as JSON, ``{**body, "items": ..., "next_cursor": ...}`` (for
    ``@blp.response(200, ...)``), or, if asked, as CSV: the items dumped with
    ``item_schema`` in its columns, or as they are in ``columns``."""
    if wants_csv():
        if item_schema is None:
            return csv_response(items, filename, columns or [])
        dumped = item_schema(many=True).dump(items)
        return csv_response(dumped, filename, columns or schema_columns(item_schema()))
    return {**(body or {}), "items": items, "next_cursor": next_cursor}
