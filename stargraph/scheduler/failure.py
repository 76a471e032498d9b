"""A failed attempt's :class:`~stargraph.store.base.RunError`: type, message, bounded traceback."""

from __future__ import annotations

import traceback

from stargraph.store.base import RunError

__all__ = ["MAX_MESSAGE", "MAX_TRACEBACK", "run_error", "truncate_middle"]

#: Most characters of an error message kept with the run.
MAX_MESSAGE = 4000
#: Most characters of a formatted traceback kept with the run (16 KiB).
MAX_TRACEBACK = 16 * 1024


def truncate_middle(text: str, limit: int) -> str:
    """Return *text*, or its head and tail around a marker naming what was cut, within *limit*."""
    if len(text) <= limit:
        return text
    marker = "\n... [{} characters truncated] ...\n"
    room = limit - len(marker.format(len(text)))
    head, tail = room - room // 2, room // 2
    return text[:head] + marker.format(len(text) - head - tail) + text[len(text) - tail :]


def run_error(exc: BaseException) -> RunError:
    """Describe *exc* for the store: its type name, message and formatted traceback."""
    formatted = "".join(traceback.format_exception(exc))
    return RunError(
        type=type(exc).__name__,
        message=str(exc)[:MAX_MESSAGE],
        traceback=truncate_middle(formatted, MAX_TRACEBACK),
    )
