"""Logging with the request / correlation id of the work in progress on every line."""

from __future__ import annotations

import logging
import sys

from shared.context import active_trace


class TraceFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        trace = active_trace()
        record.request_id = trace.request_id if trace else "-"
        record.correlation_id = trace.correlation_id if trace else "-"
        return True


# Libraries that say at INFO what only a developer needs (font subsetting, every migration
# step): quiet unless the log level is DEBUG.
CHATTY_LIBRARIES = ("fontTools", "weasyprint", "alembic")


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(TraceFilter())
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s "
            "[req=%(request_id)s corr=%(correlation_id)s] %(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("amqp", "kombu", "waitress.queue"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for chatty in CHATTY_LIBRARIES:
        logging.getLogger(chatty).setLevel(logging.NOTSET if level == "DEBUG" else logging.WARNING)
