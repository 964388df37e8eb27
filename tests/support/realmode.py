"""Start and stop a whole real-mode suite (`tameio up --broker --database-url`) as a user would.

Used by the real-mode end-to-end test and by the benchmarks in tests/load/.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import urllib3
from sqlalchemy import create_engine, make_url, pool, text

from shared.config import SERVICE_PORTS
from tests.support.harness import clear_policies, delete_topology

BROKER = os.environ.get("TAMEIO_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
DATABASE = os.environ.get(
    "TAMEIO_TEST_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres"
)
TOKEN = "real-mode-bootstrap-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RealSuite:
    base: str
    ports: dict[str, int]
    exchange: str
    prefix: str
    database_template: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def database_url(self, service: str) -> str:
        return self.database_template.replace("{service}", service)

    def log_tail(self) -> str:
        return self.log_path.read_text()[-3000:]

    def child_pids(self, pattern: str) -> list[int]:
        """The processes `tameio up` runs whose command line matches ``pattern`` (a regular
        expression, as pgrep takes it), e.g. ``"worker billing$"``."""
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid), "-f", pattern],
            capture_output=True,
            text=True,
            check=False,
        )
        return [int(pid) for pid in found.stdout.split()]

    def stop(self) -> None:
        """Stop every process, drop the databases, clear the queue policies it set.

        A graceful stop is asked for, but not waited for long: the suite's data is dropped
        next, and gunicorn's graceful shutdown alone takes seconds per process (the
        graceful shutdown itself is tested in tests/services/test_worker_shutdown.py)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(3)
        with contextlib.suppress(ProcessLookupError):  # every process of the suite's group
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        admin = create_engine(
            make_url(self.database_template).set(database="postgres"),
            isolation_level="AUTOCOMMIT",
            poolclass=pool.NullPool,
        )
        with admin.connect() as conn:
            for name in SERVICE_PORTS:
                db = make_url(self.database_url(name)).database
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()
        clear_policies(self.prefix)
        # The queues `tameio up` declared for every service, and the exchanges.
        from services.registry import SERVICES
        from shared.messaging.topology import Topology

        queues = [definition.queue for definition in SERVICES.values()]
        delete_topology(BROKER, Topology(self.exchange, queues, self.prefix))


def _ready(base: str) -> bool:
    try:
        return all(
            urllib3.request("GET", f"{base}/api/{name}/readyz", timeout=2, retries=False).status
            == 200
            for name in SERVICE_PORTS
            if name != "gateway"
        )
    except urllib3.exceptions.HTTPError:
        return False


def start_real_suite(
    broker: str = BROKER,
    exchange: str | None = None,
    prefix: str | None = None,
    web_workers: int = 1,
    timeout: float = 120.0,
    env: dict[str, str] | None = None,
    database: str = DATABASE,
) -> RealSuite:
    """`tameio up` in real mode on fresh databases and free ports; returns once all are ready."""
    run = uuid.uuid4().hex[:8]
    exchange = exchange or f"tameio.real.{run}"
    prefix = prefix or f"real{run}."
    template = (
        make_url(database)
        .set(database=f"tameio_real{run}_SERVICE")
        .render_as_string(hide_password=False)
        .replace("SERVICE", "{service}")
    )
    ports = {name: free_port() for name in SERVICE_PORTS}
    extra = env or {}
    env = {
        **os.environ,
        "TAMEIO_BOOTSTRAP_TOKEN": TOKEN,
        "TAMEIO_EXCHANGE": exchange,
        "TAMEIO_QUEUE_PREFIX": prefix,
        "TAMEIO_WEB_WORKERS": str(web_workers),
        "TAMEIO_LOG_LEVEL": "WARNING",
        **{
            f"TAMEIO_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()
        },
    }
    log_path = Path(tempfile.mkdtemp()) / "up.log"
    env["TAMEIO_DATA_DIR"] = str(log_path.parent)  # .eml files go there, not into ./var
    env.update(extra)
    command = [sys.executable, "-m", "services.cli", "up", "--broker", broker]
    command += ["--database-url", template, "--port", str(ports["gateway"])]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    suite = RealSuite(
        f"http://127.0.0.1:{ports['gateway']}", ports, exchange, prefix, template, process, log_path
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            suite.stop()
            raise RuntimeError(f"tameio up exited:\n{suite.log_tail()}")
        if _ready(suite.base):
            return suite
        time.sleep(0.5)
    suite.stop()
    raise RuntimeError(f"the suite was not ready in {timeout:g} s:\n{suite.log_tail()}")
