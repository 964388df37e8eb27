"""What the benchmarks share: percentiles and throwaway databases."""

from __future__ import annotations

from sqlalchemy import create_engine, make_url, pool, text


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(round(q * (len(ordered) - 1)), len(ordered) - 1)]


def drop_database(server_url: str, name: str) -> None:
    admin = create_engine(
        make_url(server_url).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=pool.NullPool,
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
