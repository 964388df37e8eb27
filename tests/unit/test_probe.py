"""Container health checks: the web probe asks /healthz, the worker probe reads a heartbeat."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from shared import probe


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def healthz_server() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_web_probe_uses_the_port_of_the_services_own_url(healthz_server: int) -> None:
    env = {"TAMEIO_BILLING_URL": f"http://billing-web:{healthz_server}"}

    assert probe.web_port("billing", env) == healthz_server
    assert probe.web_port("billing", {}) == 8003
    assert probe.web_alive("billing", env)
    assert not probe.web_alive("billing", {"TAMEIO_BILLING_URL": "http://x:1"}, timeout=0.5)


def test_worker_probe_reads_a_fresh_heartbeat(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(probe.tempfile, "gettempdir", lambda: str(tmp_path))
    beat = probe.heartbeat_path("billing")
    assert beat.parent == tmp_path
    assert not probe.worker_alive("billing")

    beat.touch()
    assert probe.worker_alive("billing")
    stale = time.time() - probe.WORKER_STALE_SECONDS - 5
    os.utime(beat, (stale, stale))
    assert not probe.worker_alive("billing")


def test_probe_command_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(probe.tempfile, "gettempdir", lambda: str(tmp_path))
    assert probe.main(["worker", "billing"]) == 1
    probe.heartbeat_path("billing").touch()
    assert probe.main(["worker", "billing"]) == 0
    assert probe.main(["sideways", "billing"]) == 2
    assert probe.main(["web", "nobody"]) == 2
