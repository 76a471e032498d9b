"""The receipt that :meth:`Scheduler.enqueue` returns, resolved once the run is durable."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import anyio

from stargraph.store.base import Enqueued

__all__ = ["EnqueueReceipt", "Enqueued"]


class EnqueueReceipt:
    """Awaitable result of an enqueue: ``await receipt`` gives :class:`Enqueued` after COMMIT.

    If the store write fails, awaiting raises that error. The receipt can be awaited any number
    of times, by any task of the event loop that runs the scheduler, on asyncio or trio.
    """

    __slots__ = ("_error", "_event", "_result", "graph_id", "idempotency_key")

    def __init__(self, *, graph_id: str, idempotency_key: str) -> None:
        self.graph_id = graph_id
        self.idempotency_key = idempotency_key
        self._result: Enqueued | None = None
        self._error: BaseException | None = None
        self._event: anyio.Event | None = None  # created lazily, inside the running loop

    def __repr__(self) -> str:
        state = "pending" if not self.done() else (self._result or type(self._error).__name__)
        return f"<EnqueueReceipt graph_id={self.graph_id!r} {state}>"

    def done(self) -> bool:
        """True once the enqueue was committed or failed."""
        return self._result is not None or self._error is not None

    def result(self) -> Enqueued:
        """Return the outcome now; raise the store's error, or RuntimeError if not done yet."""
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise RuntimeError("EnqueueReceipt is not resolved yet; await it instead")
        return self._result

    def __await__(self) -> Generator[Any, None, Enqueued]:
        if not self.done():
            yield from self._wait().__await__()
        return self.result()

    async def _wait(self) -> None:
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()

    # -- called by the writer task, on the loop -------------------------------------------------

    def _set_result(self, result: Enqueued) -> None:
        if not self.done():
            self._result = result
            if self._event is not None:
                self._event.set()

    def _set_error(self, error: BaseException) -> None:
        if not self.done():
            self._error = error
            if self._event is not None:
                self._event.set()
