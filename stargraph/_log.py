"""Structured log events: a dotted event name as the message, fields as ``extra``.

Every event is emitted through :func:`log_event`. The event name is the log message and the
fields travel in ``record.stargraph`` (a dict), so formatters can render them as ``key=value``
text or as JSON. No caller may pass a secret as a field. Timestamps are ISO-8601 UTC with
millisecond precision and a ``Z`` (``2026-12-04T14:09:26.123Z``).

:func:`configure_logging` sends Stargraph's events, Hypercorn's ``hypercorn.error`` and
``hypercorn.access`` lines and the access log (``http.access`` on ``stargraph.access``)
through one handler; :func:`configure_logging_from_env` does the same for
``hypercorn stargraph.serve.asgi:app`` from ``STARGRAPH_LOG_LEVEL``, ``STARGRAPH_LOG_FORMAT``
and ``STARGRAPH_ACCESS_LOG``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from stargraph.errors import ConfigError

__all__ = [
    "ACCESS_LOGGER",
    "EventFormatter",
    "JsonEventFormatter",
    "configure_logging",
    "configure_logging_from_env",
    "iso_utc",
    "log_event",
]

ACCESS_LOGGER = "stargraph.access"
"""The logger of the ``http.access`` lines (INFO); set to WARNING to turn them off."""
_ROUTED = ("stargraph", "hypercorn.error", "hypercorn.access")
_LEVELS = ("debug", "info", "warning", "error")
_FORMATS = ("text", "json")
_OFF = ("0", "false", "no", "off")
_ON = ("1", "true", "yes", "on")


def log_event(
    logger: logging.Logger,
    event: str,
    level: int = logging.INFO,
    *,
    exc_info: BaseException | None = None,
    **fields: Any,
) -> None:
    """Log *event* (a dotted name such as ``run.started``) with structured *fields*.

    *exc_info*, when given, is logged with its traceback (``exc`` in JSON lines).
    """
    if logger.isEnabledFor(level):
        logger.log(level, event, exc_info=exc_info, extra={"stargraph": fields, "event": event})


def _fields(record: logging.LogRecord) -> Mapping[str, Any]:
    fields = getattr(record, "stargraph", None)
    return fields if isinstance(fields, Mapping) else {}


def iso_utc(created: float) -> str:
    """Return the POSIX time *created* as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    millis = int(created * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z"


class EventFormatter(logging.Formatter):
    """Render ``event key=value ...`` lines for people."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return iso_utc(record.created)

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{self.formatTime(record)} {record.levelname:<7} {record.getMessage()}"]
        parts.extend(f"{key}={value!r}" for key, value in _fields(record).items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonEventFormatter(logging.Formatter):
    """Render one JSON object per line for log shippers.

    A line from another library (no event name) has ``event`` set to its logger's name and its
    text in ``message``.
    """

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": iso_utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if hasattr(record, "event"):
            body["event"] = record.getMessage()
        else:
            body["event"], body["message"] = record.name, record.getMessage()
        body.update(_fields(record))
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


class _Reroute(logging.Filter):
    """A logger filter that hands each record to *handler* and stops it there.

    Hypercorn replaces the handlers of its loggers when its own ``Logger`` is built (under the
    ``hypercorn`` command that happens after the ASGI lifespan started); a logger's filters
    survive that, so its lines keep Stargraph's format.
    """

    def __init__(self, handler: logging.Handler) -> None:
        super().__init__()
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.handler.level:
            self.handler.handle(record)
        return False


def configure_logging(level: str = "info", fmt: str = "text", *, access: bool = True) -> None:
    """Send Stargraph's and Hypercorn's lines to stderr at *level* as ``text`` or ``json``.

    *access* turns the ``http.access`` line per request on (at INFO) or off.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(JsonEventFormatter() if fmt == "json" else EventFormatter())
    for name in _ROUTED:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
        if name.startswith("hypercorn."):
            logger.filters[:] = [f for f in logger.filters if not isinstance(f, _Reroute)]
            logger.addFilter(_Reroute(handler))
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET if access else logging.WARNING)


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def configure_logging_from_env() -> None:
    """:func:`configure_logging` from ``STARGRAPH_LOG_LEVEL`` (info), ``STARGRAPH_LOG_FORMAT``
    (text) and ``STARGRAPH_ACCESS_LOG`` (on; ``0``/``off`` turns the access log off)."""
    level = _env_choice("STARGRAPH_LOG_LEVEL", "info", _LEVELS)
    fmt = _env_choice("STARGRAPH_LOG_FORMAT", "text", _FORMATS)
    access = _env_choice("STARGRAPH_ACCESS_LOG", "on", _ON + _OFF) not in _OFF
    configure_logging(level, fmt, access=access)
