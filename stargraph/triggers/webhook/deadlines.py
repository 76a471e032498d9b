"""A shared deadline for request bodies that stall, cheaper than a cancel scope per request.

A webhook body usually arrives with its headers; a per-request ``anyio.fail_after`` would cost
more than the rest of the read. Instead each read registers its body here, and one task (in the
trigger's task group) checks once a second: a body past its deadline is marked as timed out and
completed (:meth:`quart.wrappers.request.Body.set_complete`), which ends the reader's loop.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import anyio

__all__ = ["BodyDeadlines", "Watch"]

CHECK_EVERY = 1.0


class Watch:
    """One body being read: its deadline and whether the watchdog cut it off."""

    __slots__ = ("body", "deadline", "timed_out")

    def __init__(self, body: Any, deadline: float) -> None:
        self.body = body
        self.deadline = deadline
        self.timed_out = False


class BodyDeadlines:
    """Cuts off body reads that exceed their deadline (see the module doc)."""

    def __init__(self) -> None:
        self._active: dict[int, Watch] = {}
        self._ids = itertools.count()
        self.running = False

    def watch(self, body: Any, timeout: float) -> tuple[int, Watch]:
        """Register *body*; call :meth:`done` with the returned id when the read ends."""
        key = next(self._ids)
        entry = Watch(body, time.monotonic() + timeout)
        self._active[key] = entry
        return key, entry

    def done(self, key: int) -> None:
        """Forget a finished read."""
        self._active.pop(key, None)

    def expire(self, now: float) -> int:
        """Cut off every read whose deadline passed; return how many."""
        late = [(k, w) for k, w in self._active.items() if w.deadline <= now]
        for key, entry in late:
            entry.timed_out = True
            entry.body.set_complete()
            self._active.pop(key, None)
        return len(late)

    async def run(self) -> None:
        """Check deadlines once a second until cancelled."""
        self.running = True
        try:
            while True:
                await anyio.sleep(CHECK_EVERY)
                self.expire(time.monotonic())
        finally:
            self.running = False
