"""`tameio migrate` from several replicas at once: the advisory lock makes them take turns."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from sqlalchemy import create_engine, inspect, pool, text

from shared.migrations import ensure_database


def test_concurrent_migrations_wait_for_the_lock_and_both_succeed(postgres, run_id):
    url = postgres.url_for(f"tameio_t{run_id}_migrate_lock")
    assert ensure_database(url)
    postgres.created.append(url.rsplit("/", 1)[-1])
    assert not ensure_database(url)  # there already: nothing to do

    env = {**os.environ, "TAMEIO_CUSTOMERS_DATABASE_URL": url}
    holder = create_engine(url, poolclass=pool.NullPool)
    with holder.connect() as held:
        held.execute(text("SELECT pg_advisory_lock(hashtext('tameio-migrate'))"))
        replicas = [
            subprocess.Popen(
                # At debug level Alembic says which revisions it runs (quiet otherwise).
                [
                    sys.executable,
                    "-m",
                    "services.cli",
                    "--log-level",
                    "debug",
                    "migrate",
                    "customers",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        time.sleep(4)
        assert all(r.poll() is None for r in replicas), "a migration ran without the lock"
        assert "alembic_version" not in inspect(held).get_table_names()
        held.execute(text("SELECT pg_advisory_unlock(hashtext('tameio-migrate'))"))
        held.commit()
    outputs = [r.communicate(timeout=60)[0] for r in replicas]

    assert [r.returncode for r in replicas] == [0, 0], outputs
    assert sum("Running upgrade" in out for out in outputs) == 1, "the second found it done"
    with holder.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    holder.dispose()
