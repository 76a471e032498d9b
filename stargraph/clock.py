"""Wall-clock access behind a small Protocol so tests can drive time by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import anyio

__all__ = ["Clock", "SystemClock", "utcnow"]


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


@runtime_checkable
class Clock(Protocol):
    """A source of wall-clock time that can also sleep until an instant."""

    def now(self) -> datetime:
        """Return the current time (aware, UTC)."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return once :meth:`now` is at or past *when* (cancellable)."""
        ...


class SystemClock:
    """The real clock: sleeps on anyio's monotonic clock, re-checking the wall clock."""

    def now(self) -> datetime:
        return utcnow()

    async def sleep_until(self, when: datetime) -> None:
        while (delay := (when - utcnow()).total_seconds()) > 0:
            await anyio.sleep(min(delay, 30.0))
