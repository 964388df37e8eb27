"""Reporting's data migrations keep what the read models already hold, both ways."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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
