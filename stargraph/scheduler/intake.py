"""The bounded intake and the group-commit writer.

``enqueue`` puts an :class:`IntakeItem` on a bounded memory stream without waiting. One writer
task drains the stream in batches and commits each batch with one ``store.enqueue_batch`` call
(one transaction); every receipt of the batch is resolved only after that commit returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from stargraph._log import log_event
from stargraph.errors import SchedulerBusy, SchedulerClosed, StoreError
from stargraph.metrics import Metrics
from stargraph.scheduler.receipt import EnqueueReceipt
from stargraph.store.base import EnqueueRequest, RunStore

__all__ = ["Intake", "IntakeItem"]

logger = logging.getLogger("stargraph.scheduler")


@attrs.frozen(kw_only=True)
class IntakeItem:
    """One enqueue waiting for the writer: the store request and the caller's receipt."""

    request: EnqueueRequest
    receipt: EnqueueReceipt


class Intake:
    """A bounded stream of enqueue requests and the writer task that commits them."""

    def __init__(
        self,
        store: RunStore,
        metrics: Metrics,
        *,
        capacity: int,
        batch_size: int = 1000,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self.capacity = capacity
        self._batch_size = batch_size
        self._on_commit = on_commit
        self._send: MemoryObjectSendStream[IntakeItem] | None = None
        self._receive: MemoryObjectReceiveStream[IntakeItem] | None = None

    def open(self) -> None:
        """Create the stream; call inside the running event loop."""
        self._send, self._receive = anyio.create_memory_object_stream[IntakeItem](self.capacity)

    def put(self, item: IntakeItem) -> None:
        """Queue *item* without waiting; SchedulerBusy when full, SchedulerClosed when closed."""
        if self._send is None:
            raise SchedulerClosed("The scheduler is not running; enqueue inside `async with`")
        try:
            self._send.send_nowait(item)
        except anyio.WouldBlock:
            raise SchedulerBusy(self.capacity) from None
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise SchedulerClosed("The scheduler is shutting down; enqueue refused") from None

    def close(self) -> None:
        """Refuse further puts; the writer commits what is queued, then returns."""
        if self._send is not None:
            self._send.close()

    def depth(self) -> int:
        """Requests waiting for the writer."""
        return 0 if self._receive is None else self._receive.statistics().current_buffer_used

    async def run_writer(self) -> None:
        """Commit batches until the stream is closed and empty."""
        assert self._receive is not None, "Intake.open() first"
        receive = self._receive
        while True:
            try:
                first = await receive.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                return
            batch = [first]
            while len(batch) < self._batch_size:
                try:
                    batch.append(receive.receive_nowait())
                except (anyio.WouldBlock, anyio.EndOfStream):
                    break
            await self._commit(batch)

    async def _commit(self, batch: list[IntakeItem]) -> None:
        try:
            outcomes = await self._store.enqueue_batch([item.request for item in batch])
        except BaseException as exc:
            _fail_batch(batch, exc)
            if not isinstance(exc, Exception):
                raise
            return
        counts: dict[tuple[bool, str, str], int] = {}  # one labels() lookup per series
        for item, outcome in zip(batch, outcomes, strict=True):
            run = item.request.run
            key = (outcome.deduplicated, run.graph_id, run.trigger_source)
            counts[key] = counts.get(key, 0) + 1
            item.receipt._set_result(outcome)
        new = False
        for (deduplicated, graph_id, source), count in counts.items():
            counter = (
                self._metrics.runs_deduplicated if deduplicated else (self._metrics.runs_enqueued)
            )
            counter.labels(graph_id, source).inc(count)
            new = new or not deduplicated
        if new:
            self._on_commit()

    def finish(self, error: BaseException) -> int:
        """Fail every receipt still queued with *error*, close the stream; return the count."""
        if self._receive is None:
            return 0
        receive, self._receive = self._receive, None
        self.close()
        failed = 0
        while True:
            try:
                item = receive.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
            item.receipt._set_error(error)
            failed += 1
        receive.close()
        return failed


def _fail_batch(batch: list[IntakeItem], exc: BaseException) -> None:
    """Fail every receipt of a batch whose commit raised *exc*."""
    if not isinstance(exc, Exception):  # cancelled mid-commit: the outcome is unknown
        err: BaseException = SchedulerClosed("The scheduler stopped while committing this enqueue")
    else:
        log_event(
            logger,
            "run.enqueue_failed",
            logging.ERROR,
            count=len(batch),
            error=f"{type(exc).__name__}: {exc}",
        )
        err = exc if isinstance(exc, StoreError) else StoreError(f"enqueue failed: {exc}")
    for item in batch:
        item.receipt._set_error(err)
