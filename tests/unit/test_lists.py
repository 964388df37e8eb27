"""Lists: opaque cursors for keyset pagination, and lists as CSV downloads."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Column, DateTime, Integer, String, Uuid, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from shared.db import UTCDateTime
from shared.web.lists import (
    csv_response,
    decode_cursor,
    encode_cursor,
    keyset_page,
    schema_columns,
)
from shared.web.problems import Problem

INT = Column("seq", Integer)
WHEN = Column("at", DateTime(timezone=True))
ID = Column("id", Uuid)
UTC_WHEN = Column("occurred_at", UTCDateTime)

T0 = dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("columns", "values"),
    [
        ([INT], [42]),
        ([WHEN], [dt.datetime(2024, 3, 1, 10, 30, 15, 250000, tzinfo=dt.UTC)]),
        ([ID], [uuid.UUID("0b7f3a52-0c9e-4b8e-9d61-3f1a2b4c5d6e")]),
        ([WHEN, ID], [T0, uuid.UUID(int=7)]),
        ([INT, Column("name", String)], [-3, 'Αθηνά, "quoted"']),
    ],
    ids=["int", "datetime", "uuid", "datetime+uuid", "int+string"],
)
def test_a_cursor_decodes_to_the_values_it_was_made_from(
    columns: list[Column[Any]], values: list[Any]
) -> None:
    cursor = encode_cursor(values)

    assert decode_cursor(cursor, columns) == values


def test_a_cursor_is_url_safe_without_padding() -> None:
    cursor = encode_cursor([T0, uuid.UUID(int=2**128 - 1), 10**12])

    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_a_cursor_on_a_utc_timestamp_column_decodes_to_a_datetime() -> None:
    # Interactions are listed by (occurred_at, id), both UTCDateTime and Uuid columns.
    cursor = encode_cursor([T0, uuid.UUID(int=7)])

    assert decode_cursor(cursor, [UTC_WHEN, ID]) == [T0, uuid.UUID(int=7)]


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("cursor", "columns"),
    [
        ("not a cursor!", [INT]),
        ("", [INT]),
        ("%%%%", [INT]),
        (_b64("not json"), [INT]),
        (_b64('{"seq": 1}'), [INT]),
        (_b64("[1, 2]"), [INT]),
        (_b64("[]"), [INT]),
        (_b64('["12"]'), [INT]),
        (_b64("[1.5]"), [INT]),
        (_b64('["yesterday"]'), [WHEN]),
        (_b64("[null]"), [ID]),
        (_b64('["not-a-uuid"]'), [ID]),
        (base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(), [INT]),
    ],
)
def test_a_cursor_not_from_this_list_is_a_422_naming_cursor(
    cursor: str, columns: list[Column[Any]]
) -> None:
    with pytest.raises(Problem) as caught:
        decode_cursor(cursor, columns)

    assert caught.value.status == 422
    assert caught.value.errors is not None
    assert list(caught.value.errors) == ["cursor"]


# -- keyset pagination over real rows -----------------------------------------------------


class _Base(DeclarativeBase):
    pass


class _Entry(_Base):
    __tablename__ = "entries"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'lists.db'}")
    _Base.metadata.create_all(engine)
    with Session(engine) as session:
        # Two entries per hour on one day, so timestamps share their date but not their order.
        session.add_all(
            _Entry(seq=n, occurred_at=T0 + dt.timedelta(minutes=30 * n), id=uuid.UUID(int=n))
            for n in range(1, 8)
        )
        session.commit()
        yield session
    engine.dispose()


def _all_pages(session: Session, columns: list[Any], limit: int, descending: bool) -> list[int]:
    seen: list[int] = []
    cursor: str | None = None
    for _ in range(20):  # far more pages than rows: a loop would show up as repeats
        rows, cursor = keyset_page(
            session,
            select(_Entry),
            columns,
            limit=limit,
            cursor=cursor,
            descending=descending,
        )
        seen.extend(entry.seq for entry in rows)
        if cursor is None:
            break
    return seen


@pytest.mark.parametrize("descending", [False, True])
def test_paging_by_an_integer_key_returns_every_row_once(
    session: Session, descending: bool
) -> None:
    seen = _all_pages(session, [_Entry.seq], limit=3, descending=descending)

    assert seen == sorted(range(1, 8), reverse=descending)


@pytest.mark.parametrize("descending", [False, True])
def test_paging_by_a_utc_timestamp_returns_every_row_once(
    session: Session, descending: bool
) -> None:
    seen = _all_pages(session, [_Entry.occurred_at, _Entry.id], limit=3, descending=descending)

    assert seen == sorted(range(1, 8), reverse=descending)


def test_the_last_page_has_no_next_cursor(session: Session) -> None:
    rows, cursor = keyset_page(session, select(_Entry), [_Entry.seq], limit=7, cursor=None)

    assert len(rows) == 7
    assert cursor is None


# -- CSV ----------------------------------------------------------------------------------


def _read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_flattens_nested_objects_to_dotted_columns() -> None:
    rows = [
        {
            "number": "C-000001",
            "name": "Αθηνά Hotels",
            "billing_address": {"city": "Athens", "country": "GR", "geo": {"lat": "37.98"}},
            "credit_limit": None,
        }
    ]

    columns = ["number", "name", "billing_address.city", "billing_address.country"]
    response = csv_response(
        rows, "customers", [*columns, "billing_address.geo.lat", "credit_limit"]
    )

    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="customers.csv"'
    (row,) = _read_csv(response.get_data().decode("utf-8-sig"))
    assert row == {
        "number": "C-000001",
        "name": "Αθηνά Hotels",
        "billing_address.city": "Athens",
        "billing_address.country": "GR",
        "billing_address.geo.lat": "37.98",
        "credit_limit": "",
    }


def test_csv_writes_lists_as_json_in_one_cell() -> None:
    rows: list[dict[str, Any]] = [
        {"id": "p-1", "allocations": [{"invoice_id": "i-1", "amount": "10.00"}]}
    ]

    (row,) = _read_csv(
        csv_response(rows, "payments", ["id", "allocations"]).get_data().decode("utf-8-sig")
    )

    assert json.loads(row["allocations"]) == [{"invoice_id": "i-1", "amount": "10.00"}]


def test_csv_header_is_the_given_columns_whatever_the_rows_hold() -> None:
    rows: list[dict[str, Any]] = [
        {"name": "Acme", "number": "C-000001", "billing_address": None},
        {"name": "Beta", "number": "C-000002", "billing_address": {"city": "Patras"}, "x": 1},
    ]
    columns = ["number", "name", "billing_address.city"]

    text = csv_response(rows, "customers", columns).get_data().decode("utf-8-sig")

    assert text.splitlines()[0] == "number,name,billing_address.city"
    assert [row["billing_address.city"] for row in _read_csv(text)] == ["", "Patras"]


def test_csv_columns_of_a_schema_name_nested_fields_with_dots() -> None:
    from services.customers.schemas import CustomerSchema

    columns = schema_columns(CustomerSchema())

    assert columns[:3] == ["id", "number", "name"]
    assert "billing_address.country" in columns
    assert "billing_address" not in columns


def test_csv_of_an_empty_list_is_just_the_header() -> None:
    text = csv_response([], "customers", columns=["number", "name"]).get_data().decode("utf-8-sig")

    assert text == "number,name\r\n"


def test_csv_starts_with_a_byte_order_mark_and_still_parses_with_the_csv_module() -> None:
    rows = [{"number": "C-000001", "name": "Αθηνά Ξενοδοχεία"}]

    data = csv_response(rows, "customers", ["number", "name"]).get_data()

    assert data.startswith("\ufeff".encode())  # spreadsheets then read UTF-8 as UTF-8
    (row,) = _read_csv(data.decode("utf-8-sig"))
    assert row == {"number": "C-000001", "name": "Αθηνά Ξενοδοχεία"}


@pytest.mark.parametrize("flag", ["0", "false"])
def test_csv_with_bom_0_leaves_the_byte_order_mark_out(flag: str) -> None:
    app = Flask(__name__)
    with app.test_request_context(f"/customers?format=csv&bom={flag}"):
        response = csv_response([{"name": "Αθηνά"}], "customers", ["name"])

    assert response.get_data() == "name\r\nΑθηνά\r\n".encode()
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
