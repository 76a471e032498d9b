"""The one factory for scheduler settings in tests: short intervals so tests finish quickly.

Imported as ``_settings`` (``tests/`` is on ``sys.path`` through the root ``conftest.py``).
"""

from __future__ import annotations

from typing import Any

from stargraph.scheduler import SchedulerSettings

__all__ = ["settings"]

_FAST: dict[str, Any] = {
    "poll_interval": 0.05,
    "lease_seconds": 5.0,
    "shutdown_grace": 2.0,
    "heartbeat_interval": 0.1,
}


def settings(**overrides: Any) -> SchedulerSettings:
    """Fast test settings; *overrides* replace any field (``settings(intake_capacity=1)``)."""
    return SchedulerSettings(**{**_FAST, **overrides})


HANG_BOUND = 10.0
"""Seconds: the upper bound for "this returns instead of hanging" checks. Generous on purpose: a
slow or loaded CI box stays far below it, while the hang it guards against never returns."""
