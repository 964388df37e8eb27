"""``tameio`` assembles the commands the services bring (``ServiceDefinition.commands``) next
to its own, under the same names; the gateway's token and user commands work on a SQLite
gateway database, and its first start makes the admin from the settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from services.cli import main
from services.registry import SERVICES
from shared.config import load_settings

COMMANDS = {
    "broker",
    "demo",
    "dev",
    "docs",
    "events",
    "migrate",
    "rebuild-reports",
    "serve",
    "token",
    "up",
    "user",
    "worker",
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"TAMEIO_DATA_DIR": str(tmp_path), "TAMEIO_DATABASE_URL": ""}


def test_the_command_has_its_own_and_the_services_commands():
    assert set(main.commands) == COMMANDS
    contributed = {c.name for s in SERVICES.values() for c in s.commands}
    assert contributed == {"token", "user", "rebuild-reports"}
    assert main.commands["token"] is SERVICES["gateway"].commands[0]


def test_help_lists_every_visible_command():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line}
    assert listed == COMMANDS - {"dev"}


def test_token_and_user_commands_write_the_gateway_database(env):
    runner = CliRunner()
    made = runner.invoke(main, ["token", "create", "--role", "clerk", "--name", "ci"], env=env)
    assert made.exit_code == 0, made.output
    assert made.output.startswith("tmo_")

    args = ["user", "create", "--email", "Ann@Example.com", "--role", "admin", "--password"]
    created = runner.invoke(main, [*args, "long enough"], env=env)
    assert created.exit_code == 0, created.output
    assert "user ann@example.com (admin) created" in created.output
    again = runner.invoke(main, [*args, "long enough"], env=env)
    assert again.exit_code == 1
    assert "exists already" in again.output


def test_first_start_makes_the_admin_and_in_embedded_mode_a_first_token(env):
    settings = load_settings(
        "gateway",
        {**env, "TAMEIO_ADMIN_EMAIL": "boss@example.com", "TAMEIO_ADMIN_PASSWORD": "s3cret-pass"},
        require_secret=False,
    )
    gateway = SERVICES["gateway"]
    first = gateway.prepare_to_serve(settings)
    assert first is not None and first.startswith("tmo_")
    assert gateway.prepare_to_serve(settings) is None  # a token exists now
    assert SERVICES["customers"].prepare_to_serve(settings) is None
