"""The receipt that :meth:`Scheduler.enqueue` returns, resolved once the run is durable."""

from __future__ import annotations

from stargraph._batch import GroupTicket, Ticket
from stargraph.store.base import Enqueued

__all__ = ["BatchReceipt", "EnqueueReceipt", "Enqueued"]


class EnqueueReceipt(Ticket[Enqueued]):
    """Awaitable result of an enqueue: ``await receipt`` gives :class:`Enqueued` after COMMIT.

    If the store write fails, awaiting raises that error. The receipt can be awaited any number
    of times, by any task of the event loop that runs the scheduler, on asyncio or trio. The
    intake's writer resolves it (:meth:`resolve` / :meth:`fail`); callers only await it.
    """

    __slots__ = ("graph_id", "idempotency_key")

    def __init__(self, *, graph_id: str, idempotency_key: str) -> None:
        super().__init__()
        self.graph_id = graph_id
        self.idempotency_key = idempotency_key

    def __repr__(self) -> str:
        if not self.done():
            state: object = "pending"
        else:
            state = self._result or type(self._error).__name__
        return f"<EnqueueReceipt graph_id={self.graph_id!r} {state}>"


class BatchReceipt(GroupTicket[Enqueued]):
    """Awaitable result of :meth:`Scheduler.emit_many`: ``await receipt`` gives one outcome per
    event, in order, once every one is settled: its :class:`Enqueued`, or the error its enqueue
    failed with (a store outage fails them all with the same error; a value the store cannot
    hold fails only its own event). Awaiting never raises those errors; like
    :class:`EnqueueReceipt`, it can be awaited any number of times."""

    __slots__ = ()

    def __repr__(self) -> str:
        state = f"{len(self._outcomes)} settled" if self.done() else "pending"
        return f"<BatchReceipt of {len(self._outcomes)} {state}>"
