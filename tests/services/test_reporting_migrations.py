"""Reporting's data migrations keep what the read models already hold, both ways."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, pool, text

from services.registry import SERVICES
from shared.migrations import alembic_config, upgrade

REPORTING = SERVICES["reporting"]
BEFORE_DAY_TABLE = "dcac37d82054"
D1, D2, D3 = dt.date(2026, 3, 1), dt.date(2026, 3, 5), dt.date(2026, 4, 2)
# (customer, kind, date, amount): two customers, several movements on one day, one that is
# not an account movement (applied) and must not count.
MOVES = [
    ("c1", "invoice", D1, 10_000),
    ("c1", "payment", D1, -2_500),
    ("c1", "applied", D1, -2_500),
    ("c1", "payment", D2, -1_000),
    ("c1", "refund", D3, 400),
    ("c2", "invoice", D2, 7_000),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path: Path, postgres) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'reporting.db'}"
    name = f"tameio_migr_{postgres.run_id}_{len(postgres.created)}"
    postgres.created.append(name)
    return postgres.url_for(name)


def test_day_balances_move_to_their_own_table_and_back(url: str) -> None:
    upgrade(url, REPORTING.migrations_dir, BEFORE_DAY_TABLE)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        for n, (customer, kind, day, amount) in enumerate(MOVES):
            conn.execute(
                text(
                    "INSERT INTO rp_movements (event_id, customer_id, invoice_id, kind, date, "
                    "amount_minor, currency) VALUES (:e, :c, NULL, :k, :d, :a, 'EUR')"
                ),
                {"e": f"event-{n}", "c": customer, "k": kind, "d": day, "a": amount},
            )

    upgrade(url, REPORTING.migrations_dir)

    with engine.connect() as conn:
        days = conn.execute(
            text(
                "SELECT customer_id, date, balance_minor FROM rp_day_balances "
                "ORDER BY customer_id, date"
            )
        ).all()
    assert [(c, dt.date.fromisoformat(str(d)), b) for c, d, b in days] == [
        ("c1", D1, 7_500),
        ("c1", D2, 6_500),
        ("c1", D3, 6_900),
        ("c2", D2, 7_000),
    ]

    command.downgrade(alembic_config(url, REPORTING.migrations_dir), BEFORE_DAY_TABLE)

    with engine.connect() as conn:
        kept = conn.execute(
            text("SELECT customer_id, kind, amount_minor, day_balance_minor FROM rp_movements")
        ).all()
    engine.dispose()
    closes = {("c1", D1): 7_500, ("c1", D2): 6_500, ("c1", D3): 6_900, ("c2", D2): 7_000}
    expected = {(c, k, a, None if k == "applied" else closes[(c, d)]) for c, k, d, a in MOVES}
    assert set(kept) == expected


BEFORE_SOURCES = "0d712c51c2c4"


def _log(conn: Any, n: int, event_type: str, data: dict[str, Any]) -> str:
    event_id = f"event-{n}"
    envelope = {"id": event_id, "type": event_type, "data": data}
    conn.execute(
        text(
            "INSERT INTO event_log (event_id, event_type, version, source, subject, sequence, "
            "occurred_at, received_at, envelope) VALUES (:e, :t, 1, 'billing', 's', 1, "
            ":at, :at, :body)"
        ),
        {
            "e": event_id,
            "t": event_type,
            "at": dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
            "body": json.dumps(envelope),
        },
    )
    return event_id


def _move(conn: Any, event_id: str, kind: str, amount: int, invoice: str | None = None) -> None:
    conn.execute(
        text(
            "INSERT INTO rp_movements (event_id, customer_id, invoice_id, kind, date, "
            "amount_minor, currency) VALUES (:e, 'c1', :i, :k, :d, :a, 'EUR')"
        ),
        {"e": event_id, "i": invoice, "k": kind, "d": D1, "a": amount},
    )


def test_movements_learn_their_source_and_credit_note_tax_from_the_event_log(url: str) -> None:
    upgrade(url, REPORTING.migrations_dir, BEFORE_SOURCES)
    engine = create_engine(url, poolclass=pool.NullPool)
    note = {
        "id": "cn-1",
        "customer_id": "c1",
        "invoice_id": "i1",
        "amount": "12.40",
        "currency": "EUR",
        "lines": [{"tax_rate": "24.00", "net_amount": "10.00", "tax_amount": "2.40"}],
    }
    with engine.begin() as conn:
        paid = _log(conn, 1, "payments.payment.received", {"id": "p-1", "currency": "EUR"})
        _move(conn, paid, "payment", -5_000)
        applied = _log(conn, 2, "billing.payment.applied", {"payment_id": "p-1"})
        _move(conn, applied, "applied", -5_000, "i1")
        credited = _log(conn, 3, "billing.credit_note.issued", note)
        _move(conn, credited, "credit_note", -1_240)
        _move(conn, credited, "applied", -1_240, "i1")
        reversed_ = _log(conn, 4, "payments.payment.reversed", {"payment_id": "p-1"})
        _move(conn, reversed_, "reversal", 5_000)
        issued = _log(conn, 5, "billing.invoice.issued", {"id": "i1"})
        _move(conn, issued, "invoice", 12_400, "i1")

    upgrade(url, REPORTING.migrations_dir)

    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT event_id, kind, source_id, tax_minor FROM rp_movements")
        ).all()
    assert set(rows) == {
        (paid, "payment", "p-1", 0),
        (applied, "applied", "p-1", 0),
        (credited, "credit_note", "cn-1", -240),
        (credited, "applied", "cn-1", 0),
        (reversed_, "reversal", "p-1", 0),
        (issued, "invoice", None, 0),
    }

    command.downgrade(alembic_config(url, REPORTING.migrations_dir), BEFORE_SOURCES)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM rp_movements")).scalar() == 6
    engine.dispose()
