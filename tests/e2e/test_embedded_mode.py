"""`tameio up` with nothing installed: one process, memory:// broker, SQLite per service."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import urllib3

from tests.support.harness import wait_until
from tests.support.realmode import free_port

TOKEN = "embedded-mode-bootstrap-token"


def start(data_dir: Path, port: int, log: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "up",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        env={**os.environ, "TAMEIO_LOG_LEVEL": "WARNING", **env},
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def ready(base: str) -> bool:
    try:
        return (
            urllib3.request("GET", f"{base}/api/reporting/readyz", timeout=1, retries=False).status
            == 200
        )
    except urllib3.exceptions.HTTPError:
        return False


def logged_events(data_dir: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(data_dir / "reporting.db") as conn:
        return conn.execute("SELECT event_id, event_type FROM event_log ORDER BY id").fetchall()


@pytest.fixture
def embedded(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    processes: list[subprocess.Popen[bytes]] = []

    def boot(**env: str) -> str:
        process = start(tmp_path / "var", port, log, **env)
        processes.append(process)
        wait_until(lambda: ready(base) or process.poll() is not None, timeout=60, interval=0.3)
        assert process.poll() is None, log.read_text()[-3000:]
        return base

    yield boot, processes, tmp_path / "var", log
    for process in processes:
        stop(process)


def test_first_start_prints_a_working_admin_token(embedded):
    boot, _, _, log = embedded
    base = boot()
    line = next(line for line in log.read_text().splitlines() if "admin API token" in line)
    token = line.rsplit(" ", 1)[1]
    answer = urllib3.request(
        "POST",
        f"{base}/api/customers/customers",
        json={"name": "Newcomer Ltd"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status == 201, answer.data
    assert urllib3.request("GET", f"{base}/").status == 200


def test_events_flow_in_process_and_survive_a_restart_without_double_effects(embedded):
    boot, processes, data_dir, _ = embedded
    base = boot(TAMEIO_BOOTSTRAP_TOKEN=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for name in ("Alpha", "Beta"):
        assert (
            urllib3.request(
                "POST", f"{base}/api/customers/customers", json={"name": name}, headers=auth
            ).status
            == 201
        )
    events = wait_until(
        lambda: len(logged_events(data_dir)) == 2 and logged_events(data_dir),
        what="reporting to log both events",
    )
    assert {event_type for _, event_type in events} == {"customers.customer.created"}

    stop(processes[0])
    base = boot(TAMEIO_BOOTSTRAP_TOKEN=TOKEN)  # the relay republishes recent events at start
    assert (
        urllib3.request(
            "POST", f"{base}/api/customers/customers", json={"name": "Gamma"}, headers=auth
        ).status
        == 201
    )
    after = wait_until(
        lambda: len(logged_events(data_dir)) >= 3 and logged_events(data_dir),
        what="the new event after the restart",
    )
    ids = [event_id for event_id, _ in after]
    assert len(ids) == len(set(ids)) == 3, "republished events were absorbed by the inbox"
    listed = urllib3.request("GET", f"{base}/api/customers/customers", headers=auth).json()
    assert [c["number"] for c in listed["items"]] == ["C-000001", "C-000002", "C-000003"]
