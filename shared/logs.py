"""Logging with the request / correlation id of the work in progress on every line."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

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


def trace_handler(stream: TextIO) -> logging.Handler:
    """A handler writing lines as the console shows them: time, level, logger, the request
    and correlation ids of the work in progress, the message."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(TraceFilter())
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s "
            "[req=%(request_id)s corr=%(correlation_id)s] %(message)s"
        )
    )
    return handler


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    root.handlers[:] = [trace_handler(sys.stderr)]
    root.setLevel(level)
    for noisy in ("amqp", "kombu", "waitress.queue"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for chatty in CHATTY_LIBRARIES:
        logging.getLogger(chatty).setLevel(logging.NOTSET if level == "DEBUG" else logging.WARNING)
