"""PostgreSQL databases per test, cloned from a migrated template (fast and isolated)."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

from sqlalchemy import create_engine, make_url, pool, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ProgrammingError

from shared.migrations import upgrade
from shared.service import ServiceDefinition

_counter = itertools.count(1)


def _migrations_fingerprint(definition: ServiceDefinition) -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(definition.migrations_dir).rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


class PostgresFactory:
    """Creates and drops databases on one PostgreSQL server for a test run."""

    def __init__(self, server_url: str, run_id: str) -> None:
        self.server = make_url(server_url)
        self.run_id = run_id
        self.admin: Engine = create_engine(
            self.server.set(database="postgres"),
            isolation_level="AUTOCOMMIT",
            poolclass=pool.NullPool,
        )
        self.created: list[str] = []
        self._templates: dict[str, str] = {}

    def url_for(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def _exists(self, name: str) -> bool:
        with self.admin.connect() as conn:
            return (
                conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname=:n"), {"n": name}
                ).first()
                is not None
            )

    def template(self, definition: ServiceDefinition) -> str:
        """A migrated template, reused across runs while the migrations are unchanged."""
        if definition.name not in self._templates:
            name = f"tameio_tpl_{definition.name}_{_migrations_fingerprint(definition)}"
            if not self._exists(name):
                building = f"{name}_building_{self.run_id}"
                upgrade(self.url_for(building), definition.migrations_dir)
                with self.admin.connect() as conn:
                    try:  # another test process may have built the same template meanwhile
                        conn.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{name}"'))
                    except ProgrammingError as exc:
                        if "already exists" not in str(exc):
                            raise
                        conn.execute(text(f'DROP DATABASE "{building}" WITH (FORCE)'))
            self._templates[definition.name] = name
        return self._templates[definition.name]

    def fresh(self, definition: ServiceDefinition) -> str:
        """A new database for one test, a copy of the service's migrated template."""
        template = self.template(definition)
        name = f"tameio_t{self.run_id}_{definition.name}_{next(_counter)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        self.created.append(name)
        return self.url_for(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.clear()
        self.admin.dispose()
