"""Container health checks: ``python -m shared.probe web|worker SERVICE`` exits 0 when alive.

Imports nothing heavy, so a probe every few seconds costs little. The web check asks the
service's own ``/healthz`` on the port ``tameio serve`` binds (TAMEIO_<SERVICE>_URL's port,
else the fixed one); the worker check reads the heartbeat file ``tameio worker`` touches
while every part of it is running.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from shared.config import SERVICE_PORTS

WORKER_STALE_SECONDS = 30.0


def heartbeat_path(service: str) -> Path:
    """The file a running ``tameio worker SERVICE`` touches every second."""
    return Path(tempfile.gettempdir()) / f"tameio-{service}-worker.alive"


def web_port(service: str, env: Mapping[str, str]) -> int:
    url = env.get(f"TAMEIO_{service.upper()}_URL") or ""
    return urlsplit(url).port or SERVICE_PORTS[service]


def web_alive(service: str, env: Mapping[str, str], timeout: float = 3.0) -> bool:
    url = f"http://127.0.0.1:{web_port(service, env)}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def worker_alive(service: str, max_age: float = WORKER_STALE_SECONDS) -> bool:
    try:
        age = time.time() - heartbeat_path(service).stat().st_mtime
    except OSError:
        return False
    return age <= max_age


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"web", "worker"} or argv[1] not in SERVICE_PORTS:
        print("usage: python -m shared.probe web|worker SERVICE", file=sys.stderr)
        return 2
    kind, service = argv
    alive = web_alive(service, os.environ) if kind == "web" else worker_alive(service)
    if not alive:
        print(f"{service} {kind}: not alive", file=sys.stderr)
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
