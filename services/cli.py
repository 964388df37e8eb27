"""The ``tameio`` command: run modes, migrations, the broker, generated docs, and every
service's own commands (``ServiceDefinition.commands``: tokens, users, report rebuilds)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import runpy
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import click
import waitress
from alembic import command as alembic_command
from gunicorn.app.base import BaseApplication
from gunicorn.config import Config
from kombu import Connection

from services import demo as demo_data
from services.registry import SERVICES, definitions, topology
from services.welcome import next_steps
from shared.asyncapi import asyncapi_document
from shared.config import BUSINESS_SERVICES, SERVICE_PORTS, ConfigError, Settings, load_settings
from shared.logs import configure_logging
from shared.messaging.definitions import with_passwords as add_passwords
from shared.migrations import alembic_config, upgrade
from shared.probe import heartbeat_path
from shared.web.app import openapi_document
from shared.web.client import register_local
from shared.web.inputs import MAX_BODY_BYTES

log = logging.getLogger("tameio")


def _settings(
    service: str, env: Mapping[str, str] | None = None, *, require_secret: bool = True
) -> Settings:
    return load_settings(service, env, require_secret=require_secret)


def declare_topology(settings: Settings) -> None:
    """Declare exchange, queues and bindings so nothing published is routed to nowhere."""
    with Connection(settings.broker_url, connect_timeout=5) as conn:
        conn.ensure_connection(max_retries=3)
        topology(settings).declare(conn.default_channel)


class TameioGroup(click.Group):
    """Print a configuration error as one line naming the setting, then exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"tameio: configuration error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=TameioGroup)
@click.option(
    "--log-level", default=lambda: os.environ.get("TAMEIO_LOG_LEVEL", "INFO"), show_default="INFO"
)
def main(log_level: str) -> None:
    """Tameio: accounts receivable as message-driven services."""
    configure_logging(log_level.upper())


for _definition in SERVICES.values():
    for _command in _definition.commands:
        if _command.name in main.commands:
            raise RuntimeError(f"two commands named {_command.name}")
        main.add_command(_command)


# -- migrate ------------------------------------------------------------------------------


@main.command()
@click.argument("service", required=False, type=click.Choice(list(SERVICES)))
def migrate(service: str | None) -> None:
    """Create (if missing) and migrate the database of SERVICE, or of every service."""
    for name in [service] if service else list(SERVICES):
        settings = _settings(name, require_secret=False)
        SERVICES[name].migrate(settings)
        click.echo(f"{name}: migrated ({settings.database_url.split('@')[-1]})")


# -- serve / worker -----------------------------------------------------------------------


GUNICORN_CONFIG = Path(__file__).parent.parent / "shared" / "web" / "gunicorn_conf.py"


def gunicorn_settings(config_file: Path) -> dict[str, Any]:
    """The gunicorn settings a config file sets (its module-level names gunicorn knows)."""
    known = Config().settings
    names = runpy.run_path(str(config_file))
    return {name: value for name, value in names.items() if name in known}


def _gunicorn(app_factory: Any, host: str, port: int, config_file: Path) -> None:
    settings = gunicorn_settings(config_file)  # a bad TAMEIO_WEB_* stops us here, unforked

    class Standalone(BaseApplication):
        def load_config(self) -> None:
            for name, value in settings.items():
                self.cfg.set(name, value)
            self.cfg.set("bind", f"{host}:{port}")

        def load(self) -> Any:
            # Each worker builds its own app (and engine) after the fork.
            return app_factory()

    Standalone().run()


@main.command()
@click.argument("service", type=click.Choice(list(SERVICES)))
@click.option("--port", type=int, default=None, help="default: the service's fixed port")
@click.option(
    "--host",
    default=lambda: os.environ.get("TAMEIO_BIND_HOST", "127.0.0.1"),
    show_default="127.0.0.1",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=GUNICORN_CONFIG,
    help="gunicorn config file (default: shared/web/gunicorn_conf.py)",
)
def serve(service: str, port: int | None, host: str, config_file: Path) -> None:
    """Serve one service's HTTP API with gunicorn (what its web container runs)."""
    settings = _settings(service)  # fail fast, before forking workers
    definition = SERVICES[service]
    definition.prepare_to_serve(settings)
    own_port = urlsplit(settings.service_urls[service]).port  # TAMEIO_<SERVICE>_URL says where
    _gunicorn(
        lambda: definition.create_app(settings),
        host,
        port or own_port or SERVICE_PORTS[service],
        config_file,
    )


@main.command()
@click.argument("service", type=click.Choice(list(BUSINESS_SERVICES)))
def worker(service: str) -> None:
    """Run one service's consumer, outbox relay and scheduled jobs (its worker container)."""
    settings = _settings(service)
    if settings.embedded:
        raise ConfigError("TAMEIO_BROKER_URL: a separate worker needs a real broker (amqp://...)")
    definition = SERVICES[service]
    db = definition.database(settings)
    the_worker = definition.worker(settings, db, topology(settings))
    # SIGTERM (docker stop, Kubernetes) and Ctrl-C: stop taking messages, finish the batch
    # in hand and ack it, hand back anything unacked by closing the channel, then exit.
    signal.signal(signal.SIGTERM, lambda *_: the_worker.stop_event.set())
    signal.signal(signal.SIGINT, lambda *_: the_worker.stop_event.set())
    stopped_in_time = the_worker.run_forever(heartbeat=heartbeat_path(service))
    db.dispose()
    sys.exit(0 if stopped_in_time else 1)


@main.command()
@click.option(
    "--url",
    default=lambda: os.environ.get("TAMEIO_PUBLIC_URL", "http://127.0.0.1:8000"),
    show_default="http://127.0.0.1:8000",
    help="the gateway of the running suite",
)
@click.option(
    "--token",
    default=lambda: os.environ.get("TAMEIO_TOKEN") or os.environ.get("TAMEIO_BOOTSTRAP_TOKEN"),
    help="an admin API token (default: TAMEIO_TOKEN or TAMEIO_BOOTSTRAP_TOKEN)",
)
@click.option("--customers", type=click.IntRange(1, 30), default=30, show_default=True)
def demo(url: str, token: str | None, customers: int) -> None:
    """Fill a running suite with a year of realistic demo data, through the public API."""
    if not token:
        raise click.ClickException("give an admin API token: --token or TAMEIO_TOKEN")
    api = demo_data.PublicApi(url.rstrip("/"), token)

    def progress(steps: Any) -> Any:
        with click.progressbar(
            steps, length=demo_data.estimated_steps(customers), label="Demo data"
        ) as bar:
            yield from bar

    try:
        filled = demo_data.run(api, dt.date.today(), customers, progress)
    except demo_data.DemoError as exc:
        raise click.ClickException(str(exc)) from None
    if filled:
        click.echo(f"Demo data is in: open {url} and sign in.")
    else:
        click.echo("The demo data is already there; nothing added.")


@main.group()
def broker() -> None:
    """RabbitMQ topology and policies."""


@broker.command("declare")
def broker_declare() -> None:
    """Declare the exchange, every service queue and binding (idempotent)."""
    settings = _settings("gateway", require_secret=False)
    declare_topology(settings)
    click.echo(f"declared exchange {settings.exchange} and {len(topology(settings).queues)} queues")


def policy_commands(settings: Settings, delivery_limit: int = 20) -> list[list[str]]:
    """``rabbitmqctl set_policy`` argument lists for every service queue."""
    return [
        [
            "rabbitmqctl",
            "set_policy",
            "--apply-to",
            policy["apply-to"],
            "--priority",
            str(policy["priority"]),
            policy["name"],
            policy["pattern"],
            json.dumps(policy["definition"]),
        ]
        for policy in topology(settings).policies(delivery_limit)
    ]


def apply_policies(settings: Settings) -> bool:
    """Apply the queue policies with a local rabbitmqctl, if there is one; True if applied.

    The commands run side by side: each rabbitmqctl starts a virtual machine of its own,
    which takes longer than the change it makes."""
    if not shutil.which("rabbitmqctl"):
        return False
    commands = policy_commands(settings)
    running = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    applied = True
    for command, process in zip(commands, running, strict=True):
        try:
            _, errors = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            errors, process.returncode = "timed out", 1
        if process.returncode != 0:
            log.warning("could not set policy %s: %s", command[6], errors.strip())
            applied = False
    return applied


@broker.command("policies")
@click.option("--delivery-limit", type=int, default=20, show_default=True)
@click.option("--apply", "apply_now", is_flag=True, help="run them with the local rabbitmqctl")
def broker_policies(delivery_limit: int, apply_now: bool) -> None:
    """Print (or apply) the queue policies: delivery limit and dead-letter exchange."""
    settings = _settings("gateway", require_secret=False)
    for command in policy_commands(settings, delivery_limit):
        if apply_now:
            subprocess.run(command, check=True, capture_output=True, timeout=30)
        click.echo(("applied: " if apply_now else "") + shlex.join(command))


@broker.command("definitions")
@click.option(
    "--with-passwords",
    is_flag=True,
    help="add each user's password hash from TAMEIO_BROKER_PASSWORD_<USER>",
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def broker_definitions(with_passwords: bool, output: Path | None) -> None:
    """Print (or write) the RabbitMQ definitions: exchange, queues, bindings, policies,
    users and permissions (deploy/rabbitmq/definitions.json is this without passwords)."""
    document = definitions(_settings("gateway", require_secret=False))
    if with_passwords:
        document = add_passwords(document, os.environ)
    text = json.dumps(document, indent=2) + "\n"
    if output:
        output.write_text(text)
        click.echo(f"wrote {output} ({len(document['users'])} users)")
    else:
        click.echo(text, nl=False)


# -- generated documents ------------------------------------------------------------------


@main.group()
def events() -> None:
    """The event catalog."""


@events.command("asyncapi")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def events_asyncapi(output: Path | None) -> None:
    """Print (or write) the AsyncAPI document generated from the catalog."""
    text = json.dumps(asyncapi_document(), indent=2, ensure_ascii=False) + "\n"
    if output:
        output.write_text(text)
    else:
        click.echo(text, nl=False)


def render_docs() -> dict[Path, str]:
    """Every generated document (OpenAPI per service, AsyncAPI) by path under docs/."""
    docs: dict[Path, str] = {
        Path("docs/events/asyncapi.json"): json.dumps(
            asyncapi_document(), indent=2, ensure_ascii=False
        )
        + "\n"
    }
    with tempfile.TemporaryDirectory() as tmp:
        env = {"TAMEIO_DATA_DIR": tmp, "TAMEIO_INTERNAL_SECRET": "x" * 32}
        for name, definition in SERVICES.items():
            settings = load_settings(name, env)
            db = definition.database(settings)
            app = definition.create_app(settings, db)
            docs[Path(f"docs/api/{name}.openapi.json")] = (
                json.dumps(openapi_document(app), indent=2, ensure_ascii=False) + "\n"
            )
            db.dispose()
    return docs


@main.command("docs")
def write_docs() -> None:
    """Regenerate docs/api/*.openapi.json and docs/events/asyncapi.json."""
    for path, text in render_docs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        click.echo(f"wrote {path}")


# -- up -----------------------------------------------------------------------------------


@main.command()
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="embedded mode: where the SQLite files and emails go (default ./var)",
)
@click.option("--broker", default=None, help="AMQP URL: run in local real mode")
@click.option("--database-url", default=None, help="URL template with {service} (real mode)")
def up(
    port: int, host: str, data_dir: Path | None, broker: str | None, database_url: str | None
) -> None:
    """Run the whole suite: embedded (one process) or, with --broker, local real mode."""
    if broker or database_url:
        if not (broker and database_url):
            raise ConfigError("--broker and --database-url: real mode needs both")
        run_real(port, host, broker, database_url)
    else:
        run_embedded(port, host, data_dir)


class EmbeddedSuite:
    """The whole suite in this process: every service's app mounted behind the gateway, and
    their workers (consumers, relays, jobs) on the memory:// broker."""

    def __init__(self, env: Mapping[str, str]) -> None:
        env = dict(env)
        env["TAMEIO_BROKER_URL"] = "memory://"
        env["TAMEIO_DATA_DIR"] = str(Path(env.get("TAMEIO_DATA_DIR") or "var"))
        env.pop("TAMEIO_DATABASE_URL", None)
        env.setdefault("TAMEIO_INTERNAL_SECRET", secrets.token_urlsafe(32))
        env.setdefault("TAMEIO_RELAY_POLL_SECONDS", "0.2")
        self.data_dir = Path(env["TAMEIO_DATA_DIR"])
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Each service's app by name, as the gateway mounts them.
        self.apps: dict[str, Any] = {}
        apps = self.apps
        self.workers = []
        gateway_settings = self.gateway_settings = _settings("gateway", env)
        gateway = SERVICES["gateway"]
        self.first_token = gateway.prepare_to_serve(gateway_settings)
        declare_topology(gateway_settings)
        for name in BUSINESS_SERVICES:
            settings = _settings(name, env)
            definition = SERVICES[name]
            definition.migrate(settings)
            db = definition.database(settings)
            apps[name] = definition.create_app(settings, db).wsgi_app
            register_local(name, apps[name])
            self.workers.append(definition.worker(settings, db, topology(settings)))
        self.gateway = gateway.create_app(gateway_settings, backends=apps)

    def start(self) -> None:
        for each in self.workers:
            each.start()

    def stop(self) -> None:
        # All at once: each waits for its own consumers to finish the batch in hand.
        stoppers = [threading.Thread(target=each.stop) for each in self.workers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()


def embedded_server(app: Any, host: str, port: int) -> Any:
    """The waitress server ``tameio up`` serves the embedded gateway with (port 0: any free
    port, then ``effective_port``)."""
    # X-Forwarded-For reaches the app, which trusts it only per TAMEIO_TRUSTED_PROXIES.
    return waitress.create_server(
        app,
        host=host,
        port=port,
        threads=16,
        ident="tameio",
        max_request_body_size=MAX_BODY_BYTES,
        clear_untrusted_proxy_headers=False,
    )


def run_embedded(port: int, host: str, data_dir: Path | None) -> None:
    """One process: memory:// broker, one SQLite file per service, waitress on ``port``."""
    env = dict(os.environ)
    if data_dir is not None:
        env["TAMEIO_DATA_DIR"] = str(data_dir)
    suite = EmbeddedSuite(env)
    suite.start()
    data = suite.data_dir.resolve()
    server = embedded_server(suite.gateway, host, port)
    time.sleep(0.5)  # the workers' first lines (jobs run at start) come before the steps
    click.echo(f"Tameio (embedded) on http://{host}:{port}  data: {data}")
    click.echo(
        next_steps(
            f"http://{host}:{port}",
            token=suite.first_token,
            bootstrap_token=bool(suite.gateway_settings.bootstrap_token),
            mail_folder=None if suite.gateway_settings.smtp_url else data / "mail",
        )
    )
    try:
        server.run()
    finally:
        suite.stop()


class Supervisor:
    """Runs child processes, prefixes their output, restarts those that die."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: dict[str, subprocess.Popen[str]] = {}
        self.commands: dict[str, list[str]] = {}
        self.stopping = threading.Event()

    def spawn(self, label: str, args: list[str]) -> None:
        self.commands[label] = args
        self._start(label)

    def _start(self, label: str) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", *self.commands[label]],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.children[label] = process
        threading.Thread(target=self._pump, args=(label, process.stdout), daemon=True).start()

    def _pump(self, label: str, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            sys.stdout.write(f"{label:<18} | {line}")
            sys.stdout.flush()

    def watch(self) -> None:
        while not self.stopping.wait(1.0):
            for label, process in list(self.children.items()):
                if process.poll() is not None and not self.stopping.is_set():
                    sys.stdout.write(
                        f"{label:<18} | exited with {process.returncode}; restarting\n"
                    )
                    time.sleep(1.0)
                    self._start(label)

    def stop(self) -> None:
        self.stopping.set()
        for process in self.children.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for process in self.children.values():
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()


def run_real(port: int, host: str, broker: str, database_url: str) -> None:
    """Each service as its own gunicorn web process and worker process."""
    env = dict(os.environ)
    env["TAMEIO_BROKER_URL"] = broker
    env["TAMEIO_DATABASE_URL"] = database_url
    env.setdefault("TAMEIO_INTERNAL_SECRET", secrets.token_urlsafe(32))
    # Seven web services and six workers share this machine's cores: one gunicorn process
    # per service (threads still serve requests concurrently) keeps up with more payments
    # than two, which only add processes competing for the same cores (decision 33).
    env.setdefault("TAMEIO_WEB_WORKERS", "1")
    for name in SERVICES:
        settings = _settings(name, env)
        SERVICES[name].migrate(settings)
        click.echo(f"{name}: database ready")
    declare_topology(_settings("gateway", env))
    if apply_policies(_settings("gateway", env)):
        click.echo("queue policies applied with the local rabbitmqctl")
    else:
        click.echo(
            "queue policies not applied (no local rabbitmqctl): see `tameio broker policies`"
        )
    supervisor = Supervisor(env)
    for name in BUSINESS_SERVICES:
        supervisor.spawn(f"{name}-web", ["serve", name])
        supervisor.spawn(f"{name}-worker", ["worker", name])
    supervisor.spawn("gateway-web", ["serve", "gateway", "--port", str(port), "--host", host])
    click.echo(f"Tameio (real mode) on http://{host}:{port}; Ctrl-C stops every process")
    settings = _settings("gateway", env)
    click.echo(
        next_steps(
            f"http://{host}:{port}",
            token=None,
            bootstrap_token=bool(settings.bootstrap_token),
            mail_folder=None if settings.smtp_url else settings.data_dir.resolve() / "mail",
        )
    )

    def _stop(*_: object) -> None:
        supervisor.stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        supervisor.watch()
    finally:
        supervisor.stop()


# -- development --------------------------------------------------------------------------


@main.group(hidden=True)
def dev() -> None:
    """Developer helpers."""


@dev.command("makemigration")
@click.argument("service", type=click.Choice(list(SERVICES)))
@click.option("-m", "--message", required=True)
def makemigration(service: str, message: str) -> None:
    """Autogenerate the next Alembic revision of SERVICE against a scratch SQLite database."""
    definition = SERVICES[service]
    template = Path(__file__).parent.parent / "shared" / "alembic_template" / "script.py.mako"
    target = definition.migrations_dir / "script.py.mako"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/scratch.db"
        upgrade(url, definition.migrations_dir)
        shutil.copy(template, target)
        try:
            alembic_command.revision(
                alembic_config(url, definition.migrations_dir), message=message, autogenerate=True
            )
        finally:
            target.unlink()


if __name__ == "__main__":
    main()
