"""Fixtures for unit tests: settings and databases on SQLite under tmp_path, nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.config import Settings, load_settings
from shared.db import Database

SECRET = "s" * 32


@pytest.fixture
def customers_settings(tmp_path: Path) -> Settings:
    return load_settings(
        "customers", {"TAMEIO_DATA_DIR": str(tmp_path), "TAMEIO_INTERNAL_SECRET": SECRET}
    )


@pytest.fixture
def customers_db(customers_settings: Settings) -> Iterator[Database]:
    from services.customers.app import SERVICE

    db = SERVICE.database(customers_settings)
    yield db
    db.dispose()
