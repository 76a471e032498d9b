"""The lifecycle states shared by :class:`~stargraph.scheduler.Scheduler`,
:class:`~stargraph.hosting.TriggerHost` and :class:`~stargraph.runtime.Runtime`.

Each of them is single use: ``new`` → ``starting`` → ``running`` → ``stopping`` → ``stopped``.
A failed start goes from ``starting`` straight to ``stopped`` (whatever had started is unwound
first). Entering one a second time raises ``StargraphRuntimeError``.
"""

from __future__ import annotations

import enum

__all__ = ["LifecycleState"]


class LifecycleState(enum.StrEnum):
    """Where a single-use component stands; compare members with ``is``."""

    new = "new"
    """Constructed, never entered."""
    starting = "starting"
    """Entering: opening resources and starting background tasks."""
    running = "running"
    """Started; the body of the ``async with`` block runs."""
    stopping = "stopping"
    """Leaving: draining (graceful shutdown) and stopping background tasks."""
    stopped = "stopped"
    """Left, or failed to start; it cannot be entered again."""
