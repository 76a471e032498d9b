"""Test helpers: :class:`ManualClock`, a :class:`~stargraph.clock.Clock` moved by hand; and the
trigger author's kit: :class:`TriggerHarness` (one trigger on a real, throw-away store) and
:func:`check_trigger` (the ``stargraph plugins check`` suite on the running backend).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio
from anyio.lowlevel import checkpoint

if TYPE_CHECKING:
    from stargraph.plugin.check import CheckReport, SignalContext, TriggerHarness, check_trigger

__all__ = [
    "CheckReport",
    "ManualClock",
    "SignalContext",
    "TriggerHarness",
    "check_trigger",
]


def __getattr__(name: str) -> object:  # the kit imports the scheduler: load it on first use
    if name in ("CheckReport", "SignalContext", "TriggerHarness", "check_trigger"):
        from stargraph.plugin import check

        return getattr(check, name)
    raise AttributeError(f"module 'stargraph.testing' has no attribute {name!r}")


class ManualClock:
    """A wall clock that only moves when a test calls :meth:`advance` or :meth:`set`.

    ``sleep_until`` returns once the clock reaches the instant; sleepers are woken by the
    call that moves the clock. Works on asyncio and trio (events are created lazily, inside
    the running loop).
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.utcoffset() is None:
            raise ValueError(f"ManualClock needs an aware start, got {start!r}")
        self._now = start.astimezone(UTC)
        self._sleepers: list[tuple[datetime, anyio.Event]] = []

    def now(self) -> datetime:
        """The clock's current time (aware, UTC)."""
        return self._now

    @property
    def sleepers(self) -> int:
        """How many tasks are waiting in :meth:`sleep_until`."""
        return len(self._sleepers)

    def next_wakeup(self) -> datetime | None:
        """The earliest instant a sleeper waits for, or None."""
        return min((when for when, _ in self._sleepers), default=None)

    async def sleep_until(self, when: datetime) -> None:
        """Return once the clock is at or past *when* (cancellable)."""
        if when <= self._now:
            await checkpoint()
            return
        entry = (when, anyio.Event())
        self._sleepers.append(entry)
        try:
            await entry[1].wait()
        finally:
            if entry in self._sleepers:
                self._sleepers.remove(entry)

    def set(self, when: datetime) -> None:
        """Jump to *when* (forward or backward) and wake every sleeper that is due."""
        self._now = when.astimezone(UTC)
        due = [e for e in self._sleepers if e[0] <= self._now]
        for entry in due:
            self._sleepers.remove(entry)
            entry[1].set()

    def advance(self, seconds: float | timedelta) -> None:
        """Move forward by *seconds* and wake every sleeper that is due."""
        delta = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        self.set(self._now + delta)
