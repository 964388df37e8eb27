"""gunicorn settings of ``tameio serve`` (what every web container runs).

Read as a gunicorn config file: each module-level name that gunicorn knows is a setting.
``tameio serve --config PATH`` takes another file instead; ``bind`` is always set by the
command. A bad TAMEIO_WEB_* value stops the process with one line naming it.
"""

from __future__ import annotations

import os

from shared.config import ConfigError


def _count(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}: must be a whole number of at least 1, got {raw!r}")
    return int(raw)


# Processes and threads per process; a thread per request in flight (gthread).
workers = _count("TAMEIO_WEB_WORKERS", 2)
threads = _count("TAMEIO_WEB_THREADS", 4)
worker_class = "gthread"

# A request still running after this long has its worker restarted (PDFs and reports
# included); the gateway gives up on a service after 30 s, well before this.
timeout = 60
# On SIGTERM gunicorn stops accepting and lets requests in flight finish for this long;
# Kubernetes' terminationGracePeriodSeconds (45) leaves room for it and the preStop pause.
graceful_timeout = 25
# Idle keep-alive connections from the gateway or a load balancer are closed after this.
keepalive = 5

# Access lines come from the services' own request logging.
accesslog = None
# The heartbeat file of each worker process: in memory where there is /dev/shm, so a slow
# or read-only disk never makes gunicorn think a worker hung.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn's control socket (under $HOME) is not used: containers are stopped by signals,
# and a read-only root file system has no home to put it in.
control_socket_disable = True
