"""Settings from TAMEIO_* variables: defaults, overrides, and one clear line per bad setting."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shared.config import ConfigError, load_settings

SECRET = "k" * 32


def env(**extra: str) -> dict[str, str]:
    return {"TAMEIO_INTERNAL_SECRET": SECRET, **extra}


def test_defaults_give_an_embedded_suite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings("customers", env(TAMEIO_DATA_DIR=str(tmp_path)))

    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'customers.db'}"
    assert settings.broker_url == "memory://"
    assert settings.embedded
    assert settings.data_dir == tmp_path
    assert settings.timezone == ZoneInfo("UTC")
    assert settings.exchange == "tameio.events"
    assert settings.queue_name == "customers.events"
    assert settings.bootstrap_token is None
    assert settings.smtp_url is None


def test_default_service_urls_use_the_fixed_local_ports() -> None:
    settings = load_settings("billing", env())

    assert dict(settings.service_urls) == {
        "gateway": "http://127.0.0.1:8000",
        "customers": "http://127.0.0.1:8001",
        "contracts": "http://127.0.0.1:8002",
        "billing": "http://127.0.0.1:8003",
        "payments": "http://127.0.0.1:8004",
        "notifier": "http://127.0.0.1:8005",
        "reporting": "http://127.0.0.1:8006",
    }


def test_a_service_url_can_be_overridden_and_loses_its_trailing_slash() -> None:
    settings = load_settings("billing", env(TAMEIO_CUSTOMERS_URL="https://customers.example/"))

    assert settings.service_urls["customers"] == "https://customers.example"
    assert settings.service_urls["payments"] == "http://127.0.0.1:8004"


def test_each_service_gets_its_own_sqlite_file(tmp_path: Path) -> None:
    urls = {
        service: load_settings(service, env(TAMEIO_DATA_DIR=str(tmp_path))).database_url
        for service in ("customers", "billing", "gateway")
    }

    assert len(set(urls.values())) == 3
    assert urls["billing"].endswith("/billing.db")


def test_database_url_template_is_filled_with_the_service_name() -> None:
    template = "postgresql+psycopg://root@127.0.0.1:5432/tameio_{service}"
    settings = load_settings("payments", env(TAMEIO_DATABASE_URL=template))

    assert settings.database_url == "postgresql+psycopg://root@127.0.0.1:5432/tameio_payments"


def test_per_service_database_url_wins_over_the_template() -> None:
    variables = env(
        TAMEIO_DATABASE_URL="postgresql+psycopg://root@db:5432/tameio_{service}",
        TAMEIO_CUSTOMERS_DATABASE_URL="postgresql+psycopg://crm@crm-db:5432/customers",
    )

    customers = load_settings("customers", variables)
    billing = load_settings("billing", variables)

    assert customers.database_url == "postgresql+psycopg://crm@crm-db:5432/customers"
    assert billing.database_url == "postgresql+psycopg://root@db:5432/tameio_billing"


def test_database_url_template_without_service_placeholder_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^TAMEIO_DATABASE_URL: .*\{service\}"):
        load_settings("customers", env(TAMEIO_DATABASE_URL="postgresql://root@db:5432/tameio"))


@pytest.mark.parametrize("url", ["amqp://guest:guest@rabbit:5672//", "amqps://rabbit", "memory://"])
def test_amqp_and_memory_brokers_are_accepted(url: str) -> None:
    assert load_settings("customers", env(TAMEIO_BROKER_URL=url)).broker_url == url


def test_only_a_memory_broker_means_embedded_mode() -> None:
    assert not load_settings("customers", env(TAMEIO_BROKER_URL="amqp://rabbit")).embedded


def test_timezone_is_read_from_the_environment() -> None:
    settings = load_settings("reporting", env(TAMEIO_TIMEZONE="Europe/Athens"))

    assert settings.timezone == ZoneInfo("Europe/Athens")


def test_secret_is_optional_when_not_required() -> None:
    settings = load_settings("customers", {}, require_secret=False)

    assert settings.internal_secret == ""


BAD_SETTINGS = [
    pytest.param({}, "TAMEIO_INTERNAL_SECRET", id="secret-missing"),
    pytest.param({"TAMEIO_INTERNAL_SECRET": "short"}, "TAMEIO_INTERNAL_SECRET", id="secret-short"),
    pytest.param({"TAMEIO_INTERNAL_SECRET": "x" * 15}, "TAMEIO_INTERNAL_SECRET", id="secret-15"),
    pytest.param(env(TAMEIO_TIMEZONE="Mars/Olympus"), "TAMEIO_TIMEZONE", id="tz-unknown"),
    pytest.param(env(TAMEIO_TIMEZONE="../etc/passwd"), "TAMEIO_TIMEZONE", id="tz-path"),
    pytest.param(env(TAMEIO_TIMEZONE="Europe"), "TAMEIO_TIMEZONE", id="tz-directory"),
    pytest.param(
        env(TAMEIO_DATABASE_URL="postgresql://db/tameio"), "TAMEIO_DATABASE_URL", id="db-template"
    ),
    pytest.param(
        env(TAMEIO_DATABASE_URL="mysql://db/tameio_{service}"),
        "TAMEIO_DATABASE_URL",
        id="db-scheme",
    ),
    pytest.param(
        env(TAMEIO_CUSTOMERS_DATABASE_URL="mongodb://db/customers"),
        "TAMEIO_CUSTOMERS_DATABASE_URL",
        id="own-db-scheme",
    ),
    pytest.param(env(TAMEIO_BROKER_URL="redis://cache:6379/0"), "TAMEIO_BROKER_URL", id="broker"),
    pytest.param(
        env(TAMEIO_BOOTSTRAP_TOKEN="tooshort"), "TAMEIO_BOOTSTRAP_TOKEN", id="bootstrap-short"
    ),
    pytest.param(env(TAMEIO_SMTP_URL="http://mail"), "TAMEIO_SMTP_URL", id="smtp-scheme"),
    pytest.param(env(TAMEIO_QUEUE_PREFIX="a b"), "TAMEIO_QUEUE_PREFIX", id="queue-prefix"),
    pytest.param(env(TAMEIO_BILLING_URL="ftp://billing"), "TAMEIO_BILLING_URL", id="service-url"),
    pytest.param(
        env(TAMEIO_RETRY_WINDOW_SECONDS="soon"), "TAMEIO_RETRY_WINDOW_SECONDS", id="float-text"
    ),
    pytest.param(
        env(TAMEIO_RELAY_POLL_SECONDS="0"), "TAMEIO_RELAY_POLL_SECONDS", id="float-not-positive"
    ),
]


@pytest.mark.parametrize(("variables", "name"), BAD_SETTINGS)
def test_a_bad_setting_stops_with_one_line_naming_the_variable(
    variables: dict[str, str], name: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings("customers", variables)

    message = str(caught.value)
    assert message.startswith(f"{name}:")
    assert "\n" not in message


def test_an_unknown_service_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown service 'ledger'"):
        load_settings("ledger", env())


def test_the_consumer_linger_is_the_services_own_unless_set_and_may_be_zero() -> None:
    assert load_settings("billing", env()).consumer_linger_seconds is None
    assert (
        load_settings("billing", env(TAMEIO_CONSUMER_LINGER_SECONDS="0")).consumer_linger_seconds
        == 0
    )
    assert (
        load_settings("billing", env(TAMEIO_CONSUMER_LINGER_SECONDS="0.25")).consumer_linger_seconds
        == 0.25
    )
    with pytest.raises(ConfigError, match=r"^TAMEIO_CONSUMER_LINGER_SECONDS: "):
        load_settings("billing", env(TAMEIO_CONSUMER_LINGER_SECONDS="-1"))


@pytest.mark.parametrize(
    ("raw", "expected"), [("", True), ("false", False), ("0", False), ("YES", True)]
)
def test_declare_topology_is_a_yes_or_no(raw: str, expected: bool) -> None:
    settings = load_settings("billing", env(TAMEIO_DECLARE_TOPOLOGY=raw))

    assert settings.declare_topology is expected


def test_declare_topology_that_is_not_a_yes_or_no_is_named() -> None:
    with pytest.raises(ConfigError, match=r"^TAMEIO_DECLARE_TOPOLOGY: must be true or false"):
        load_settings("billing", env(TAMEIO_DECLARE_TOPOLOGY="maybe"))
