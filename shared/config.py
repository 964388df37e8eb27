"""Settings from ``TAMEIO_*`` environment variables.

A missing or invalid setting raises :class:`ConfigError` whose message is one line naming
the variable; the ``tameio`` command prints it and exits, so a process never starts half
configured.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Every part of the suite and its fixed local port (CONTRACT "Running it").
SERVICE_PORTS: dict[str, int] = {
    "gateway": 8000,
    "customers": 8001,
    "contracts": 8002,
    "billing": 8003,
    "payments": 8004,
    "notifier": 8005,
    "reporting": 8006,
}
BUSINESS_SERVICES = tuple(name for name in SERVICE_PORTS if name != "gateway")


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """What one service process needs to know about its surroundings."""

    service: str
    database_url: str
    broker_url: str
    internal_secret: str
    data_dir: Path
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    bootstrap_token: str | None = None
    smtp_url: str | None = None
    exchange: str = "tameio.events"
    queue_prefix: str = ""
    service_urls: Mapping[str, str] = field(default_factory=dict)
    retry_window_seconds: float = 900.0
    retry_base_delay_seconds: float = 1.0
    relay_poll_seconds: float = 1.0
    # How long a consumer waits after a message for more to apply in the same transaction;
    # None: the service's own default (ServiceDefinition.consumer_linger).
    consumer_linger_seconds: float | None = None
    admin_email: str | None = None
    admin_password: str | None = None
    # False: the broker's definitions are loaded by ops and a service's user may not declare
    # anything, so workers only check (passively) that the exchange and queues exist.
    declare_topology: bool = True
    # Publish the older version of an event beside its slimmer successor (decision 81).
    legacy_event_versions: bool = True
    # Where clients reach the suite; https turns on HSTS and Secure cookies.
    public_url: str | None = None
    # How many reverse proxies in front of the gateway append to X-Forwarded-For.
    trusted_proxies: int = 0
    # Money-moving creates answer 503 while a fresh reading of a consuming queue they feed
    # is deeper than this (messages ready); the worker reads the depths this often.
    backpressure_depth: int = 100
    backpressure_poll_seconds: float = 1.0

    @property
    def tls(self) -> bool:
        return bool(self.public_url and self.public_url.startswith("https://"))

    @property
    def queue_name(self) -> str:
        return f"{self.queue_prefix}{self.service}.events"

    @property
    def embedded(self) -> bool:
        return self.broker_url.startswith("memory://")

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def database_url_for(service: str, env: Mapping[str, str], data_dir: Path) -> str:
    """The service's own database: TAMEIO_<SERVICE>_DATABASE_URL, else the template."""
    own = env.get(f"TAMEIO_{service.upper()}_DATABASE_URL")
    if own:
        return _check_db_url(f"TAMEIO_{service.upper()}_DATABASE_URL", own)
    template = env.get("TAMEIO_DATABASE_URL")
    if template:
        if "{service}" not in template:
            raise ConfigError(
                "TAMEIO_DATABASE_URL: must contain {service}, e.g. "
                "postgresql+psycopg://root@127.0.0.1:5432/tameio_{service}"
            )
        return _check_db_url("TAMEIO_DATABASE_URL", template.replace("{service}", service))
    return f"sqlite:///{(data_dir / f'{service}.db').resolve()}"


def _check_db_url(name: str, url: str) -> str:
    scheme = urlsplit(url).scheme
    if not (scheme.startswith("postgresql") or scheme.startswith("sqlite")):
        raise ConfigError(
            f"{name}: unsupported database URL scheme {scheme!r} (postgresql or sqlite)"
        )
    return url


def _seconds_or_none(env: Mapping[str, str], name: str) -> float | None:
    """A duration that may be zero; None when not set."""
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: not a number: {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name}: must be zero or more, got {raw!r}")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}: must be a whole number of 1 or more, got {raw!r}")
    return int(raw)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: not a number: {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name}: must be positive, got {raw!r}")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE | _FALSE:
        return raw in _TRUE
    raise ConfigError(f"{name}: must be true or false, got {env.get(name)!r}")


def load_settings(
    service: str,
    env: Mapping[str, str] | None = None,
    *,
    require_secret: bool = True,
) -> Settings:
    """Read one service's settings from the environment.

    Raises ConfigError naming the variable when one is missing or invalid.
    """
    env = os.environ if env is None else env
    if service not in SERVICE_PORTS:
        raise ConfigError(f"service: unknown service {service!r}")
    data_dir = Path(env.get("TAMEIO_DATA_DIR") or "var")
    # Checked in this order: the first bad setting is the one reported.
    timezone = _timezone(env)
    broker_url = _broker_url(env)
    secret = _internal_secret(env, required=require_secret)
    bootstrap = _bootstrap_token(env)
    smtp_url = _smtp_url(env)
    exchange = env.get("TAMEIO_EXCHANGE") or "tameio.events"
    prefix = _queue_prefix(env)
    urls = _service_urls(env)
    public_url = _http_url(env, "TAMEIO_PUBLIC_URL")
    proxies = _trusted_proxies(env)
    return Settings(
        service=service,
        database_url=database_url_for(service, env, data_dir),
        broker_url=broker_url,
        internal_secret=secret,
        data_dir=data_dir,
        timezone=timezone,
        bootstrap_token=bootstrap,
        smtp_url=smtp_url,
        exchange=exchange,
        queue_prefix=prefix,
        service_urls=urls,
        retry_window_seconds=_float(env, "TAMEIO_RETRY_WINDOW_SECONDS", 900.0),
        retry_base_delay_seconds=_float(env, "TAMEIO_RETRY_BASE_DELAY_SECONDS", 1.0),
        relay_poll_seconds=_float(env, "TAMEIO_RELAY_POLL_SECONDS", 1.0),
        consumer_linger_seconds=_seconds_or_none(env, "TAMEIO_CONSUMER_LINGER_SECONDS"),
        admin_email=env.get("TAMEIO_ADMIN_EMAIL") or None,
        admin_password=env.get("TAMEIO_ADMIN_PASSWORD") or None,
        declare_topology=_bool(env, "TAMEIO_DECLARE_TOPOLOGY", True),
        legacy_event_versions=_bool(env, "TAMEIO_LEGACY_EVENT_VERSIONS", True),
        public_url=public_url.rstrip("/") if public_url else None,
        trusted_proxies=proxies,
        backpressure_depth=_positive_int(env, "TAMEIO_BACKPRESSURE_DEPTH", 100),
        backpressure_poll_seconds=_float(env, "TAMEIO_BACKPRESSURE_POLL_SECONDS", 1.0),
    )


def _timezone(env: Mapping[str, str]) -> ZoneInfo:
    tz_name = env.get("TAMEIO_TIMEZONE") or "UTC"
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"TAMEIO_TIMEZONE: unknown time zone {tz_name!r}") from None


def _broker_url(env: Mapping[str, str]) -> str:
    broker_url = env.get("TAMEIO_BROKER_URL") or "memory://"
    broker_scheme = urlsplit(broker_url).scheme
    if broker_scheme not in {"amqp", "amqps", "pyamqp", "memory"}:
        raise ConfigError(
            f"TAMEIO_BROKER_URL: unsupported scheme {broker_scheme!r} (amqp or memory)"
        )
    return broker_url


def _internal_secret(env: Mapping[str, str], *, required: bool) -> str:
    secret = env.get("TAMEIO_INTERNAL_SECRET") or ""
    if required and len(secret) < 16:
        raise ConfigError(
            "TAMEIO_INTERNAL_SECRET: missing or shorter than 16 characters "
            "(it signs the caller identity between gateway and services)"
        )
    return secret


def _bootstrap_token(env: Mapping[str, str]) -> str | None:
    bootstrap = env.get("TAMEIO_BOOTSTRAP_TOKEN") or None
    if bootstrap is not None and len(bootstrap) < 16:
        raise ConfigError("TAMEIO_BOOTSTRAP_TOKEN: must be at least 16 characters")
    return bootstrap


def _smtp_url(env: Mapping[str, str]) -> str | None:
    smtp_url = env.get("TAMEIO_SMTP_URL") or None
    if smtp_url and urlsplit(smtp_url).scheme not in {"smtp", "smtps"}:
        raise ConfigError(
            f"TAMEIO_SMTP_URL: scheme must be smtp or smtps, got {urlsplit(smtp_url).scheme!r}"
        )
    return smtp_url


def _queue_prefix(env: Mapping[str, str]) -> str:
    prefix = env.get("TAMEIO_QUEUE_PREFIX") or ""
    if not re.fullmatch(r"[A-Za-z0-9._-]*", prefix):
        raise ConfigError(
            f"TAMEIO_QUEUE_PREFIX: only letters, digits, '.', '_' and '-': {prefix!r}"
        )
    return prefix


def _service_urls(env: Mapping[str, str]) -> dict[str, str]:
    urls = {}
    for name, port in SERVICE_PORTS.items():
        url = env.get(f"TAMEIO_{name.upper()}_URL") or f"http://127.0.0.1:{port}"
        if urlsplit(url).scheme not in {"http", "https"}:
            raise ConfigError(f"TAMEIO_{name.upper()}_URL: must be an http(s) URL, got {url!r}")
        urls[name] = url.rstrip("/")
    return urls


def _http_url(env: Mapping[str, str], name: str) -> str | None:
    url = env.get(name) or None
    if url and urlsplit(url).scheme not in {"http", "https"}:
        raise ConfigError(f"{name}: must be an http(s) URL, got {url!r}")
    return url


def _trusted_proxies(env: Mapping[str, str]) -> int:
    proxies = env.get("TAMEIO_TRUSTED_PROXIES") or "0"
    if not proxies.isdigit() or int(proxies) > 10:
        raise ConfigError(f"TAMEIO_TRUSTED_PROXIES: a whole number from 0 to 10, got {proxies!r}")
    return int(proxies)
