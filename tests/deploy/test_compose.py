"""docker-compose.yml follows the Compose specification and runs what the suite needs:
every service's migrations, web and worker in order, with health checks."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from services.registry import SERVICES
from tests.deploy.conftest import ROOT
from tests.deploy.tools import run

CONSUMERS = [name for name, s in SERVICES.items() if s.handlers]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_matches_the_compose_specification() -> None:
    # The schema ships inside check-jsonschema: nothing is fetched.
    result = run(
        "check-jsonschema", "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_service_migrates_before_its_web_and_worker_start(compose, service) -> None:
    containers = compose["services"]
    migrate, web = containers[f"{service}-migrate"], containers[f"{service}-web"]

    assert migrate["command"] == ["tameio", "migrate", service]
    assert migrate["build"]["target"] == service
    assert web["build"]["target"] == service
    assert web["depends_on"][f"{service}-migrate"]["condition"] == "service_completed_successfully"
    assert web["healthcheck"]["test"] == ["CMD", "python", "-m", "shared.probe", "web", service]
    if service in CONSUMERS:
        worker = containers[f"{service}-worker"]
        assert worker["command"] == ["tameio", "worker", service]
        assert worker["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        assert worker["depends_on"][f"{service}-migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert worker["environment"]["TAMEIO_BROKER_URL"].startswith(f"amqp://{service}:")
        assert worker["healthcheck"]["test"][-2:] == ["worker", service]


def test_the_gateway_is_published_on_8000_and_waits_for_every_service(compose) -> None:
    gateway = compose["services"]["gateway-web"]

    assert gateway["ports"] == ["127.0.0.1:${GATEWAY_PORT:-8000}:8000"]
    for service in SERVICES:
        if service != "gateway":
            assert gateway["depends_on"][f"{service}-web"]["condition"] == "service_healthy"


def test_infrastructure_has_health_checks_and_the_definitions_first(compose) -> None:
    containers = compose["services"]
    for name in ("postgres", "rabbitmq", "mailpit"):
        assert containers[name]["healthcheck"]["test"]
    assert containers["rabbitmq"]["image"].endswith("-management")
    assert containers["rabbitmq"]["depends_on"]["rabbitmq-definitions"]["condition"] == (
        "service_completed_successfully"
    )
    databases = containers["postgres"]["environment"]["DATABASES"].split()
    assert sorted(databases) == sorted(f"tameio_{service}" for service in SERVICES)
    assert containers["notifier-worker"]["environment"]["TAMEIO_SMTP_URL"].endswith(
        "smtp://mailpit:1025}"
    )


def test_no_container_but_the_infrastructure_publishes_a_port(compose) -> None:
    published = {name for name, c in compose["services"].items() if c.get("ports")}

    assert published == {"gateway-web", "rabbitmq", "mailpit"}
    for name in published:
        assert all(p.startswith("127.0.0.1:") for p in compose["services"][name]["ports"])
