"""Wake-up primitives whose anyio Events are created lazily, inside the running loop.

The one place that swaps an ``anyio.Event`` to wake waiters: :class:`Waker` for one waiting
task with a sticky flag (a wake before the wait is not lost), :class:`Broadcast` for any number
of waiters that all return at the next :meth:`~Broadcast.notify`.
"""

from __future__ import annotations

import anyio

__all__ = ["Broadcast", "Waker"]


class Waker:
    """A sticky wake-up flag: :meth:`wake` (sync) makes the next or current :meth:`wait` return.

    Meant for one waiting task at a time (a writer, a dispatcher, a scheduling loop).
    """

    __slots__ = ("_event", "_flag")

    def __init__(self) -> None:
        self._flag = False
        self._event: anyio.Event | None = None

    def wake(self) -> None:
        """Set the flag and wake a waiter, if any. Safe from any task of the loop."""
        self._flag = True
        if self._event is not None:
            self._event.set()

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until woken or *timeout* seconds passed; return whether it was woken."""
        if not self._flag:
            self._event = event = anyio.Event()
            try:
                if timeout is None:  # no cancel scope: the writers' idle wait is per batch
                    await event.wait()
                else:
                    with anyio.move_on_after(timeout):
                        await event.wait()
            finally:
                self._event = None
        woken, self._flag = self._flag, False
        return woken


class Broadcast:
    """Every task waiting in :meth:`wait` returns at the next :meth:`notify` (not sticky)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: anyio.Event | None = None

    def notify(self) -> None:
        """Wake every current waiter."""
        event, self._event = self._event, None
        if event is not None:
            event.set()

    async def wait(self, timeout: float | None = None) -> None:
        """Return at the next :meth:`notify`, or after *timeout* seconds."""
        if self._event is None:
            self._event = anyio.Event()
        event = self._event
        if timeout is None:
            await event.wait()
            return
        with anyio.move_on_after(timeout):
            await event.wait()
