"""Database helpers: named counters, timezone-aware UTC timestamps, prebuilt statements."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, Table, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from shared.db import Database, Prebuilt, UTCDateTime, new_metadata, next_counter


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    metadata = new_metadata()
    Table(
        "stamps",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("at", UTCDateTime, nullable=True),
    )
    database = Database("customers", f"sqlite:///{tmp_path / 'customers.db'}", metadata)
    metadata.create_all(database.engine)
    yield database
    database.dispose()


def test_a_counter_counts_1_2_3(db: Database) -> None:
    with db.unit_of_work() as uow:
        values = [uow.next_number("customer") for _ in range(3)]
        uow.commit()

    assert values == [1, 2, 3]


def test_counters_with_different_names_are_independent(db: Database) -> None:
    with db.unit_of_work() as uow:
        customers = [uow.next_number("customer"), uow.next_number("customer")]
        invoices = [uow.next_number("invoice:2024"), uow.next_number("invoice:2024")]
        third_customer = uow.next_number("customer")
        uow.commit()

    assert customers == [1, 2]
    assert invoices == [1, 2]
    assert third_customer == 3


def test_a_counter_continues_in_the_next_transaction(db: Database) -> None:
    for _ in range(2):
        with db.unit_of_work() as uow:
            uow.next_number("customer")
            uow.commit()

    with Session(db.engine) as session:
        assert next_counter(session, db.tables.counters, "customer") == 3


def test_a_counter_taken_in_a_rolled_back_transaction_is_given_again(db: Database) -> None:
    with db.unit_of_work() as uow:
        assert uow.next_number("customer") == 1  # left without commit: rolled back

    with db.unit_of_work() as uow:
        assert uow.next_number("customer") == 1


def _store(db: Database, value: dt.datetime | None) -> dt.datetime | None:
    stamps = db.metadata.tables["stamps"]
    with db.engine.begin() as conn:
        conn.execute(stamps.insert().values(id=1, at=value))
    with db.engine.connect() as conn:
        return conn.execute(select(stamps.c.at)).scalar_one()


def test_a_utc_timestamp_comes_back_aware_and_equal(db: Database) -> None:
    written = dt.datetime(2024, 3, 1, 10, 30, 15, 123456, tzinfo=dt.UTC)

    read = _store(db, written)

    assert read == written
    assert read is not None and read.tzinfo == dt.UTC


def test_a_timestamp_with_another_offset_comes_back_as_the_same_instant_in_utc(
    db: Database,
) -> None:
    athens = dt.timezone(dt.timedelta(hours=2))

    read = _store(db, dt.datetime(2024, 3, 1, 12, 0, tzinfo=athens))

    assert read == dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.UTC)
    assert read is not None and read.utcoffset() == dt.timedelta(0)


def test_a_missing_timestamp_stays_missing(db: Database) -> None:
    assert _store(db, None) is None


def test_a_naive_timestamp_is_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        _store(db, dt.datetime(2024, 3, 1, 10, 0))


def test_a_taken_number_never_waits_for_an_open_transaction_and_a_failed_one_leaves_a_gap(
    service_factory,
) -> None:
    payments = service_factory("payments", broker="memory://")
    with payments.db.unit_of_work() as first:
        assert first.take_number("payment:2026") == 1
        with payments.db.unit_of_work() as second:
            # Fails after 2 s instead of waiting if ``first`` held anything ``second`` needs.
            second.session.execute(text("SET LOCAL lock_timeout = '2s'"))
            assert second.take_number("payment:2026") == 2
            second.commit()
        # ``first`` ends without commit: its number is not given again.

    with payments.db.unit_of_work() as third:
        assert third.take_number("payment:2026") == 3
        assert third.take_number("payment:2027") == 1, "each counter counts on its own"
        third.commit()


def test_what_a_unit_of_work_collects_is_written_once_at_commit(db: Database) -> None:
    stamps = db.metadata.tables["stamps"]
    writes: list[list[dict[str, int]]] = []

    def write(uow_session: Session, rows: list[dict[str, int]]) -> None:
        writes.append(rows)
        uow_session.execute(stamps.insert(), rows)

    with db.unit_of_work() as uow:
        for n in (1, 2, 3):
            uow.collect("stamps", lambda rows: write(uow.session, rows)).append({"id": n})
        assert writes == []
        uow.commit()
    with db.unit_of_work() as uow:
        uow.collect("stamps", lambda rows: write(uow.session, rows)).append({"id": 4})
        # left without commit: nothing is written

    assert writes == [[{"id": 1}, {"id": 2}, {"id": 3}]]
    with db.engine.connect() as conn:
        assert conn.execute(select(stamps.c.id)).scalars().all() == [1, 2, 3]


def test_taken_numbers_go_on_from_a_counter_that_counted_them_before(service_factory) -> None:
    payments = service_factory("payments", broker="memory://")
    with payments.db.unit_of_work() as before:  # numbers taken by the counter row
        assert [before.next_number("refund:2026") for _ in range(41)][-1] == 41
        before.commit()

    with payments.db.unit_of_work() as after:
        assert after.take_number("refund:2026") == 42


def test_a_core_statement_on_the_connection_sees_what_the_session_holds(tmp_path: Path) -> None:
    class Base(DeclarativeBase):
        metadata = new_metadata()

    class Note(Base):
        __tablename__ = "notes"
        id: Mapped[int] = mapped_column(primary_key=True)

    database = Database("customers", f"sqlite:///{tmp_path / 'notes.db'}", Base.metadata)
    Base.metadata.create_all(database.engine)
    with database.unit_of_work() as uow:
        uow.session.add(Note(id=1))
        seen = uow.connection().execute(select(func.count()).select_from(Note.__table__))
        assert seen.scalar() == 1
        uow.commit()
    database.dispose()


def _invoice(number: str) -> dict[str, object]:
    now = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    return {
        "id": uuid.uuid4(),
        "number": number,
        "customer_id": "c-1",
        "status": "open",
        "currency": "EUR",
        "issue_date": dt.date(2026, 3, 1),
        "due_date": dt.date(2026, 3, 31),
        "bill_to": {"name": "Ada", "lines": ["1 Main St", None]},
        "lines": [{"amount": "10.00", "quantity": 1.5}],
        "requested_lines": [],
        "subtotal_minor": 1000,
        "tax_minor": 0,
        "total_minor": 1000,
        "paid_minor": 0,
        "credited_minor": 0,
        "overdue_reported": False,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def test_a_prebuilt_statement_runs_on_postgresql_as_sqlalchemy_runs_it(service_factory) -> None:
    billing = service_factory("billing", broker="memory://")
    invoices = billing.db.metadata.tables["invoices"]
    new_invoice = Prebuilt(insert(invoices))
    touch = Prebuilt(
        update(invoices)
        .where(invoices.c.id.in_(bindparam("ids", expanding=True)))
        .values(notes=bindparam("note"), updated_at=bindparam("now"))
        .returning(*invoices.c, (invoices.c.total_minor * 2).label("twice"))
    )
    first, second = _invoice("INV-1"), _invoice("INV-2")
    with billing.db.unit_of_work() as uow:
        assert uow.run(new_invoice, first) == []
        assert uow.run(new_invoice, second) == []
        later = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
        params = {"ids": [first["id"], second["id"], uuid.uuid4()], "note": "n", "now": later}
        by_driver = sorted(uow.run(touch, params), key=lambda row: row.number)
        expected = sorted(uow.connection().execute(touch.statement, params), key=lambda r: r[1])
        uow.commit()
    assert None not in touch._forms.values(), "run by the driver, not by SQLAlchemy"

    assert [row._fields for row in by_driver] == [tuple(row._fields) for row in expected]
    assert [tuple(row) for row in by_driver] == [tuple(row) for row in expected]
    assert [[type(v) for v in row] for row in by_driver] == [
        [type(v) for v in row] for row in expected
    ]
    assert by_driver[0].bill_to == first["bill_to"] and by_driver[0].lines == first["lines"]
    assert by_driver[0].updated_at == later and by_driver[0].updated_at.tzinfo is dt.UTC
    assert by_driver[0].twice == 2000
    with billing.db.unit_of_work() as uow, pytest.raises(IntegrityError):
        uow.run(new_invoice, first)  # the driver's error, wrapped as SQLAlchemy wraps it
    naive = {**params, "now": dt.datetime(2026, 3, 2, 9, 0)}
    with billing.db.unit_of_work() as uow, pytest.raises(StatementError, match="naive datetime"):
        uow.run(touch, naive)  # the column type's own check
