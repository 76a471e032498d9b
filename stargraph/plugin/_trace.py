"""``STARGRAPH_TRACE_PLUGINS=1``: print ``plugin.*`` events to stderr without logging set up."""

from __future__ import annotations

import logging
import os
import sys

from stargraph._log import EventFormatter

__all__ = ["TRACE_ENV", "enable_trace_from_env", "plugin_logger"]

TRACE_ENV = "STARGRAPH_TRACE_PLUGINS"
plugin_logger = logging.getLogger("stargraph.plugin")


class _StderrHandler(logging.Handler):
    """Write to whatever ``sys.stderr`` is at emit time (survives stream swaps in tests)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def _trace_requested() -> bool:
    return os.environ.get(TRACE_ENV, "").strip().lower() not in {"", "0", "false", "no", "off"}


def enable_trace_from_env() -> bool:
    """Attach the stderr trace handler to ``stargraph.plugin`` once, if the variable asks for it."""
    if not _trace_requested():
        return False
    if not any(isinstance(h, _StderrHandler) for h in plugin_logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(EventFormatter())
        plugin_logger.addHandler(handler)
    if not plugin_logger.isEnabledFor(logging.INFO):
        plugin_logger.setLevel(logging.INFO)
    return True
