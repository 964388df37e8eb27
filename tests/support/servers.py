"""Where the test broker and database server are, and proof that they answer.

URLs come from the environment (TAMEIO_TEST_BROKER_URL, TAMEIO_TEST_DATABASE_URL),
defaulting to the local servers; where a Docker engine runs and no URL is given,
testcontainers starts them. A server that does not answer fails the test with the URL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
from kombu import Connection
from sqlalchemy import create_engine, make_url, pool, text

DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_DATABASE = "postgresql+psycopg://root@127.0.0.1:5432/postgres"
_containers: list[Any] = []


def docker_engine_running() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def broker_url() -> str:
    url = os.environ.get("TAMEIO_TEST_BROKER_URL")
    if url:
        return url
    if docker_engine_running():
        from testcontainers.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer("rabbitmq:3.13-management").start()
        _containers.append(container)
        params = container.get_connection_params()
        return f"amqp://guest:guest@{params.host}:{params.port}//"
    return DEFAULT_BROKER


def database_server_url() -> str:
    url = os.environ.get("TAMEIO_TEST_DATABASE_URL")
    if url:
        return url
    if docker_engine_running():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:15", driver="psycopg").start()
        _containers.append(container)
        return str(container.get_connection_url())
    return DEFAULT_DATABASE


def require_broker(url: str) -> None:
    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        pytest.fail(f"cannot reach RabbitMQ at {url}: {type(exc).__name__}: {exc}", pytrace=False)


def require_database(url: str) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        pytest.fail(
            f"cannot reach PostgreSQL at {shown}: {type(exc).__name__}: {exc}", pytrace=False
        )
    finally:
        engine.dispose()


def stop_containers() -> None:
    while _containers:
        _containers.pop().stop()
