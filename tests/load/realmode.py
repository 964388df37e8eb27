"""Start and stop a whole real-mode suite (`tameio up --broker --database-url`) for benchmarks."""

from __future__ import annotations

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
from tests.support.harness import clear_policies

BROKER = os.environ.get("TAMEIO_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
DATABASE = os.environ.get(
    "TAMEIO_TEST_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres"
)
TOKEN = "benchmark-bootstrap-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RealSuite:
    base: str
    exchange: str
    database_template: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def database_url(self, service: str) -> str:
        return self.database_template.replace("{service}", service)

    prefix: str = ""

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        admin = create_engine(
            make_url(DATABASE).set(database="postgres"),
            isolation_level="AUTOCOMMIT",
            poolclass=pool.NullPool,
        )
        with admin.connect() as conn:
            for name in SERVICE_PORTS:
                db = make_url(self.database_url(name)).database
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()
        clear_policies(self.prefix)


def start_real_suite(web_workers: int = 2) -> RealSuite:
    run = uuid.uuid4().hex[:8]
    exchange = f"tameio.bench.{run}"
    template = (
        make_url(DATABASE)
        .set(database=f"tameio_bench{run}_SERVICE")
        .render_as_string(hide_password=False)
    ).replace("SERVICE", "{service}")
    ports = {name: free_port() for name in SERVICE_PORTS}
    env = {
        **os.environ,
        "TAMEIO_BOOTSTRAP_TOKEN": TOKEN,
        "TAMEIO_EXCHANGE": exchange,
        "TAMEIO_QUEUE_PREFIX": f"bench{run}.",
        "TAMEIO_WEB_WORKERS": str(web_workers),
        "TAMEIO_LOG_LEVEL": "WARNING",
        **{
            f"TAMEIO_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()
        },
    }
    log_path = Path(tempfile.mkdtemp()) / "up.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "up",
            "--broker",
            BROKER,
            "--database-url",
            template,
            "--port",
            str(ports["gateway"]),
        ],
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{ports['gateway']}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"tameio up exited:\n{log_path.read_text()[-3000:]}")
        try:
            if all(
                urllib3.request("GET", f"{base}/api/{name}/readyz", timeout=2, retries=False).status
                == 200
                for name in SERVICE_PORTS
                if name != "gateway"
            ):
                return RealSuite(base, exchange, template, process, log_path, f"bench{run}.")
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the suite did not become ready in 120 s")
