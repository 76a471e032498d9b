"""Structured log events: a dotted event name as the message, fields as ``extra``.

Every event is emitted through :func:`log_event`. The event name is the log message and the
fields travel in ``record.stargraph`` (a dict), so formatters can render them as ``key=value``
text or as JSON. No caller may pass a secret as a field.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["EventFormatter", "JsonEventFormatter", "configure_logging", "log_event"]


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log *event* (a dotted name such as ``run.started``) with structured *fields*."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"stargraph": fields, "event": event})


def _fields(record: logging.LogRecord) -> Mapping[str, Any]:
    fields = getattr(record, "stargraph", None)
    return fields if isinstance(fields, Mapping) else {}


class EventFormatter(logging.Formatter):
    """Render ``event key=value ...`` lines for people."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{self.formatTime(record)} {record.levelname:<7} {record.getMessage()}"]
        parts.extend(f"{key}={value!r}" for key, value in _fields(record).items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonEventFormatter(logging.Formatter):
    """Render one JSON object per line for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        body.update(_fields(record))
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    """Send Stargraph's events to stderr at *level* as ``text`` or ``json``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonEventFormatter() if fmt == "json" else EventFormatter())
    root = logging.getLogger("stargraph")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
