"""Alembic per service: create the database if missing, then upgrade to head.

Each service keeps its revisions in ``services/<name>/migrations``; its ``env.py`` calls
:func:`run_env` with the service's metadata. On PostgreSQL an advisory lock makes
concurrent ``tameio migrate`` runs (several replicas or Jobs starting at once) take turns:
each waits for the lock, then finds the work done and does nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, make_url, pool, text
from sqlalchemy.exc import OperationalError, ProgrammingError

log = logging.getLogger(__name__)


def ensure_database(url: str) -> bool:
    """Create the database ``url`` names if it does not exist; True if it was created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return False
    name = parsed.database
    if _reachable(url):
        return False  # also where the user may not connect to "postgres" (managed databases)
    server = create_engine(
        parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=pool.NullPool
    )
    try:
        with server.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if exists:
                return False
            try:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            except ProgrammingError as exc:  # created meanwhile by a concurrent starter
                if "already exists" not in str(exc):
                    raise
                return False
            log.info("created database %s", name)
            return True
    finally:
        server.dispose()


def _reachable(url: str) -> bool:
    """True if the database exists and takes connections; False if it does not exist."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect():
            return True
    except OperationalError as exc:
        if "does not exist" in str(exc):
            return False
        raise
    finally:
        engine.dispose()


def alembic_config(url: str, migrations_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, migrations_dir: Path, revision: str = "head") -> None:
    """Create the database if needed and migrate it to ``revision``."""
    ensure_database(url)
    command.upgrade(alembic_config(url, migrations_dir), revision)


def run_env(metadata: MetaData) -> None:
    """Body of every service's migrations/env.py (online mode only)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None, "sqlalchemy.url is set by shared.migrations.alembic_config"
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if not sqlite:
            conn.execute(text("SELECT pg_advisory_lock(hashtext('tameio-migrate'))"))
            conn.commit()
        context.configure(
            connection=conn, target_metadata=metadata, render_as_batch=sqlite, compare_type=True
        )
        with context.begin_transaction():
            context.run_migrations()
        if not sqlite:
            conn.execute(text("SELECT pg_advisory_unlock(hashtext('tameio-migrate'))"))
            conn.commit()
    engine.dispose()


# -- steps every service's migrations share (the platform tables are in each database) --------


def upgrade_platform_message_bytes() -> None:
    """Retry and dead-letter bodies become bytes (any message can be kept exactly), and the
    worker reports its consumer's state, restarts and last error."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in ("dead_letters", "event_retries"):
        if postgres:
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN body TYPE bytea USING convert_to(body, 'UTF8')"
            )
        else:
            with op.batch_alter_table(table) as batch:
                batch.alter_column("body", type_=sa.LargeBinary(), existing_nullable=False)
            op.execute(f"UPDATE {table} SET body = CAST(body AS BLOB)")
    with op.batch_alter_table("worker_status") as batch:
        batch.add_column(sa.Column("consumer_state", sa.String(40), nullable=True))
        batch.add_column(sa.Column("consumer_restarts", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))


def downgrade_platform_message_bytes() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("worker_status") as batch:
        batch.drop_column("last_error")
        batch.drop_column("consumer_restarts")
        batch.drop_column("consumer_state")
    for table in ("dead_letters", "event_retries"):
        if postgres:
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN body TYPE text USING convert_from(body, 'UTF8')"
            )
        else:
            with op.batch_alter_table(table) as batch:
                batch.alter_column("body", type_=sa.Text(), existing_nullable=False)


def create_queue_depths() -> None:
    """The worker's readings of the consuming queues a service's money-moving creates feed
    (backpressure: shared/messaging/backpressure.py)."""
    op.create_table(
        "queue_depths",
        sa.Column("queue", sa.String(200), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("queue", name=op.f("pk_queue_depths")),
    )


def drop_queue_depths() -> None:
    op.drop_table("queue_depths")


def upgrade_platform_outbox_versions() -> None:
    """Each outbox row keeps its event's version, so the relay can tell the broker which
    are legacy versions (decision 99; rows written before have none: published as before),
    and payloads are compressed with lz4 where the server has it (decision 100)."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("version", sa.SmallInteger(), nullable=True))
    compress_with_lz4("outbox", "payload")


def downgrade_platform_outbox_versions() -> None:
    compress_by_default("outbox", "payload")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("version")


def compress_with_lz4(table: str, column: str) -> None:
    """On PostgreSQL built with lz4 (14 and later), the column's large values are compressed
    with it rather than pglz: a 71 KB event wrote in 0.5 ms instead of 1.5, about as small.
    Elsewhere, and on a server without lz4, nothing changes."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"DO $$ BEGIN ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4; "
        "EXCEPTION WHEN feature_not_supported THEN NULL; END $$"
    )


def compress_by_default(table: str, column: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION default")
