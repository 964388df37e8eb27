"""deploy/Dockerfile: hadolint clean, and the rules every image must keep: one target per
service, a non-root USER, a HEALTHCHECK, nothing secret in ENV or ARG, pango and fonts."""

from __future__ import annotations

import re

import pytest

from services.registry import SERVICES
from shared.config import SERVICE_PORTS
from tests.deploy.conftest import DEPLOY
from tests.deploy.tools import run

DOCKERFILE = DEPLOY / "Dockerfile"


def stages() -> dict[str, list[str]]:
    """Each stage's instructions (continuation lines joined), by its name."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = found.setdefault(match.group(1), [])
        current.append(line)
    return found


def test_hadolint_finds_nothing() -> None:
    result = run("hadolint", "--config", str(DEPLOY / ".hadolint.yaml"), str(DOCKERFILE))

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_service_has_a_target_with_its_command_port_and_healthcheck(service) -> None:
    target = stages()[service]

    assert target[0] == f"FROM runtime AS {service}"
    assert f"EXPOSE {SERVICE_PORTS[service]}" in target
    assert f'CMD ["tameio", "serve", "{service}"]' in target
    (healthcheck,) = [line for line in target if line.startswith("HEALTHCHECK")]
    assert healthcheck.endswith(f'CMD ["python", "-m", "shared.probe", "web", "{service}"]')


def test_the_runtime_runs_as_a_numeric_non_root_user() -> None:
    runtime = stages()["runtime"]
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]

    assert users, "no USER in the runtime stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric, so Kubernetes' runAsNonRoot can check it
    for stage in stages().values():
        assert not any(
            line.startswith("USER") and line.split()[1].startswith(("0", "root")) for line in stage
        )


def test_nothing_secret_is_baked_into_an_image() -> None:
    secretive = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|_KEY\b|CREDENTIAL", re.IGNORECASE)
    for stage in stages().values():
        for line in stage:
            if line.startswith(("ENV", "ARG")):
                assert not secretive.search(line), f"secret-looking setting in: {line}"
    assert not re.search(r"\.env\b|definitions\.json", DOCKERFILE.read_text())


def test_pdfs_can_be_drawn_in_greek() -> None:
    runtime = " ".join(stages()["runtime"])

    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core"):
        assert package in runtime
    assert "slim" in DOCKERFILE.read_text().split("PYTHON_IMAGE=", 1)[1].split()[0]
