""".env.example lists every TAMEIO_* setting the code reads, each with its meaning, and
nothing the code does not read; docker-compose.yml passes only settings that exist."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from services.registry import SERVICES
from shared.config import load_settings
from shared.messaging.definitions import password_variable
from tests.deploy.conftest import DEPLOY, ROOT

# A setting's name as code spells it; a name ending in "_" is a template's stem in prose
# ("TAMEIO_WEB_*"), and "X_TAMEIO_..." is a header.
NAME = re.compile(r"(?<![A-Za-z0-9_])TAMEIO_[A-Z0-9_]+")
ASSIGNED = re.compile(r"^#? ?(TAMEIO_[A-Z0-9_]+)=", re.MULTILINE)


class RecordingEnv(Mapping[str, str]):
    """An empty environment that remembers every name it was asked for."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return self.values[key]

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return self.values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def settings_the_code_reads() -> set[str]:
    """What load_settings asks for (per service), every name the sources spell out (the
    os.environ reads outside config.py), and each broker user's password variable."""
    read: set[str] = set()
    for service in SERVICES:
        env = RecordingEnv({"TAMEIO_INTERNAL_SECRET": "x" * 32})
        load_settings(service, env)
        read |= env.asked
    for source in [*(ROOT / "shared").rglob("*.py"), *(ROOT / "services").rglob("*.py")]:
        read |= {name for name in NAME.findall(source.read_text()) if not name.endswith("_")}
    users = json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text())["users"]
    read |= {password_variable(user["name"]) for user in users}
    return read


def listed_in_env_example() -> dict[str, int]:
    text = (ROOT / ".env.example").read_text()
    return {m.group(1): text[: m.start()].count("\n") for m in ASSIGNED.finditer(text)}


def test_every_setting_the_code_reads_is_listed() -> None:
    missing = settings_the_code_reads() - set(listed_in_env_example())

    assert not missing, f".env.example lacks {sorted(missing)}"


def test_nothing_listed_is_unknown_to_the_code() -> None:
    unknown = set(listed_in_env_example()) - settings_the_code_reads()

    assert not unknown, f".env.example lists settings no code reads: {sorted(unknown)}"


def test_every_listed_setting_has_its_meaning_above_it() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    for name, number in listed_in_env_example().items():
        block = number
        while block > 0 and lines[block - 1].strip():
            block -= 1  # up to the first line of its paragraph
        first = lines[block]
        assert first.startswith("# ") and not ASSIGNED.match(first), (
            f"{name}: its paragraph does not start with a comment saying what it means"
        )


def test_the_recording_catches_per_service_names() -> None:
    read = settings_the_code_reads()

    assert {"TAMEIO_BILLING_DATABASE_URL", "TAMEIO_BILLING_URL", "TAMEIO_DECLARE_TOPOLOGY"} <= read
    assert {"TAMEIO_WEB_WORKERS", "TAMEIO_LOG_LEVEL", "TAMEIO_BROKER_PASSWORD_SUBSCRIBER"} <= read


def test_compose_passes_only_settings_the_code_reads() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    passed = {
        name
        for service in compose["services"].values()
        for name in (service.get("environment") or {})
        if name.startswith("TAMEIO_")
    }

    assert passed, "no TAMEIO_* setting found in docker-compose.yml"
    assert passed <= settings_the_code_reads(), sorted(passed - settings_the_code_reads())


def test_compose_uses_only_variables_the_example_defines() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    example = (ROOT / ".env.example").read_text()
    defined = set(re.findall(r"^#? ?([A-Z0-9_]+)=", example, re.MULTILINE))

    assert used <= defined, f"docker-compose.yml uses {sorted(used - defined)} not in .env.example"


def test_env_example_values_are_valid_settings(tmp_path: Path) -> None:
    env = {
        m.group(1): m.group(2)
        for m in re.finditer(
            r"^(TAMEIO_[A-Z0-9_]+)=(.*)$", (ROOT / ".env.example").read_text(), re.M
        )
    }
    for service in SERVICES:
        load_settings(service, {**env, "TAMEIO_DATA_DIR": str(tmp_path)})  # raises if not
