"""The bounded intake and its group-commit writer.

``enqueue`` puts an :class:`~stargraph.store.base.EnqueueRequest` and its receipt on a bounded
:class:`~stargraph._batch.BatchWriter` without waiting. The writer task commits each batch with
one ``store.enqueue_batch`` call (one transaction); every receipt of the batch is resolved only
after that commit returns.

Error policy: a batch the store refuses for a value it cannot hold
(:class:`~stargraph.errors.StoreRejected`) is split in halves and each half committed on its
own, down to the culprit: only the culprit's receipt fails (InvalidParams), every other
request commits (cron fires, webhook deliveries and queue messages share this intake). Any
other store error (an outage) fails the whole batch, as a single commit would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import anyio

from stargraph._batch import BatchWriter, Failed, GroupTicket
from stargraph._log import log_event
from stargraph._tracing import NOOP, RunTracer
from stargraph.errors import (
    InvalidParams,
    SchedulerBusy,
    SchedulerClosed,
    StoreError,
    StoreRejected,
)
from stargraph.metrics import Metrics
from stargraph.scheduler.receipt import EnqueueReceipt
from stargraph.store.base import Enqueued, EnqueueRequest, RunStore

__all__ = ["Intake"]

logger = logging.getLogger("stargraph.scheduler")


class Intake:
    """A bounded queue of enqueue requests and the writer task that commits them."""

    def __init__(
        self,
        store: RunStore,
        metrics: Metrics,
        *,
        capacity: int,
        batch_size: int = 1000,
        on_commit: Callable[[], None] = lambda: None,
        tracer: RunTracer = NOOP,
    ) -> None:
        self._store = store
        self._tracer = tracer
        self._spans: dict[str, object] = {}  # run_id -> enqueue span handle (tracing only)
        self._metrics = metrics
        self.capacity = capacity
        self._on_commit = on_commit
        self._writer = BatchWriter[EnqueueRequest, Enqueued](
            self._commit, batch_size=batch_size, capacity=capacity, on_error=_batch_error
        )

    def open(self) -> None:
        """Start accepting requests."""
        self._writer.open()

    def put(
        self, request: EnqueueRequest, receipt: EnqueueReceipt, span: object | None = None
    ) -> None:
        """Queue *request* without waiting; SchedulerBusy when full, SchedulerClosed when closed.

        *span* (the enqueue span's handle) rides with the request to its commit; a refused put
        ends it with the error.
        """
        try:
            self._writer.put(request, receipt)
        except (anyio.WouldBlock, anyio.ClosedResourceError) as exc:
            error = self._refusal(exc)
            if span is not None:
                self._tracer.committed([span], error, time.time_ns())
            raise error from None
        if span is not None:
            self._spans[request.run.run_id] = span

    def put_many(
        self,
        requests: Sequence[EnqueueRequest],
        receipt: GroupTicket[Enqueued],
        spans: Sequence[object | None] = (),
    ) -> None:
        """Queue every one of *requests* or none (as :meth:`put`); *receipt* gets their
        outcomes. *spans* are the requests' enqueue spans (tracing only), in order."""
        try:
            self._writer.put_many(requests, receipt)
        except (anyio.WouldBlock, anyio.ClosedResourceError) as exc:
            error = self._refusal(exc)
            if any(spans):
                self._tracer.committed(list(spans), error, time.time_ns())
            raise error from None
        for request, span in zip(requests, spans, strict=False):
            if span is not None:
                self._spans[request.run.run_id] = span

    def _refusal(self, exc: Exception) -> SchedulerBusy | SchedulerClosed:
        if isinstance(exc, anyio.WouldBlock):
            return SchedulerBusy(self.capacity)
        if not self._writer.opened:
            return SchedulerClosed("The scheduler is not running; enqueue inside `async with`")
        return SchedulerClosed("The scheduler is shutting down; enqueue refused")

    def close(self) -> None:
        """Refuse further puts; the writer commits what is queued, then returns."""
        self._writer.close()

    def depth(self) -> int:
        """Requests waiting for the writer."""
        return self._writer.depth()

    async def run_writer(self) -> None:
        """Commit batches until the intake is closed and empty."""
        await self._writer.run()

    async def _commit(self, requests: list[EnqueueRequest]) -> list[Enqueued | Failed]:
        if not self._spans:
            return await self._commit_batch(requests)
        spans = [self._spans.pop(request.run.run_id, None) for request in requests]
        if not any(spans):
            return await self._commit_batch(requests)
        started = time.time_ns()
        try:
            results = await self._commit_batch(requests)
        except BaseException as exc:
            self._tracer.committed(spans, exc, started)
            raise
        self._tracer.committed(spans, results, started)
        return results

    async def _commit_batch(self, requests: list[EnqueueRequest]) -> list[Enqueued | Failed]:
        outcomes: Sequence[Enqueued | Failed]
        try:
            outcomes = await self._store.enqueue_batch(requests)
        except StoreRejected as exc:
            outcomes = await self._isolate(requests, exc)
        counts: dict[tuple[bool, str, str], int] = {}  # one labels() lookup per series
        results = []
        for request, outcome in zip(requests, outcomes, strict=True):
            results.append(outcome)
            # a store-refused request, or an overlap policy refused the fire: nothing enqueued
            if isinstance(outcome, Failed) or outcome.skipped:
                continue
            run = request.run
            key = (outcome.deduplicated, run.graph_id, run.trigger_source)
            counts[key] = counts.get(key, 0) + 1
        new = False
        for (deduplicated, graph_id, source), count in counts.items():
            counter = (
                self._metrics.runs_deduplicated if deduplicated else self._metrics.runs_enqueued
            )
            counter.labels(graph_id, source).inc(count)
            new = new or not deduplicated
        if new:
            self._on_commit()
        return results

    async def _isolate(
        self, requests: Sequence[EnqueueRequest], exc: StoreRejected
    ) -> list[Enqueued | Failed]:
        """Commit *requests* (refused together with *exc*) in halves, down to the culprits.

        A half that fails otherwise (an outage meanwhile) fails alone: the halves already
        committed keep their outcome.
        """
        if len(requests) == 1:
            return [Failed(_rejected(requests[0], exc))]
        mid = len(requests) // 2
        results: list[Enqueued | Failed] = []
        for half in (requests[:mid], requests[mid:]):
            try:
                results.extend(await self._store.enqueue_batch(half))
            except StoreRejected as again:
                results.extend(await self._isolate(half, again))
            except Exception as failed:
                error = _batch_error(half, failed)
                results.extend(Failed(error) for _ in half)
        return results

    def finish(self, error: BaseException) -> int:
        """Fail every receipt still queued with *error*, close the intake; return the count."""
        if self._spans:
            self._tracer.committed(list(self._spans.values()), error, time.time_ns())
            self._spans.clear()
        return self._writer.fail_all(error)


def _rejected(request: EnqueueRequest, exc: StoreRejected) -> InvalidParams:
    """The error of the one request the store refused; logged as ``run.enqueue_rejected``."""
    run = request.run
    log_event(
        logger,
        "run.enqueue_rejected",
        logging.ERROR,
        graph_id=run.graph_id,
        trigger_source=run.trigger_source,
        idempotency_key=f"{run.idempotency_key!r:.80}",
        error=str(exc),
    )
    error = InvalidParams(
        f"the store cannot hold this run of graph {run.graph_id!r} (key "
        f"{run.idempotency_key!r:.80}): {exc}; fix the value, retrying it fails again"
    )
    error.__cause__ = exc
    return error


def _batch_error(requests: Sequence[EnqueueRequest], exc: BaseException) -> BaseException:
    """The error every receipt of a batch whose commit raised *exc* fails with."""
    if not isinstance(exc, Exception):  # cancelled mid-commit: the outcome is unknown
        return SchedulerClosed("The scheduler stopped while committing this enqueue")
    log_event(
        logger,
        "run.enqueue_failed",
        logging.ERROR,
        count=len(requests),
        error=f"{type(exc).__name__}: {exc}",
    )
    return exc if isinstance(exc, StoreError) else StoreError(f"enqueue failed: {exc}")
