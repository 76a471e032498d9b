"""The completer: records finished attempts in batches with one ``store.complete_many`` each.

The executor queues a :class:`Done` per finished attempt; a :class:`~stargraph._batch.BatchWriter`
commits them. Error policy: a failed ``complete_many`` is logged and retried every 0.5 s (the
runs stay leased and heartbeated meanwhile); it never fails the executor. At shutdown
:meth:`Completer.flush` records what is queued and releases the leases of interrupted runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import attrs

from stargraph._batch import BatchWriter
from stargraph._log import log_event
from stargraph._wakeup import Broadcast
from stargraph.clock import Clock
from stargraph.metrics import Metrics
from stargraph.store.base import Completion, Run, RunStatus, RunStore

__all__ = ["Completer", "Done"]

logger = logging.getLogger("stargraph.scheduler")

RETRY_DELAY = 0.5  # seconds between attempts to record a batch while the store fails
_EVENTS = {
    RunStatus.succeeded: "run.succeeded",
    RunStatus.failed: "run.failed",
    RunStatus.cancelled: "run.cancelled",
}


@attrs.frozen(kw_only=True)
class Done:
    """A finished attempt waiting to be recorded."""

    run: Run
    completion: Completion
    duration: float
    #: The exception of a failed attempt, logged with its traceback at ``run.failed``.
    exc: BaseException | None = attrs.field(default=None, repr=False)


@attrs.frozen
class _Series:
    """The metric children of one (graph, trigger source, status), looked up once."""

    finished: Any
    duration: Any

    def record(self, seconds: float) -> None:
        self.finished.inc()
        self.duration.observe(seconds)


class Completer:
    """Batches finished attempts into ``complete_many`` calls; see the module docstring."""

    def __init__(
        self,
        *,
        store: RunStore,
        clock: Clock,
        metrics: Metrics,
        owner: str,
        batch_size: int,
        on_change: Callable[[], None],
    ) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._owner = owner
        self._on_change = on_change
        self._writer = BatchWriter[Done, None](self._commit, batch_size=batch_size)
        self._writer.open()
        self._released: list[str] = []
        self._series_cache: dict[tuple[str, str, RunStatus], _Series] = {}
        self.finished = Broadcast()  # notified after each batch of completions is recorded

    def put(self, done: Done) -> None:
        """Queue *done* for recording (dropped after :meth:`flush`: its lease will expire)."""
        if not self._writer.closed:
            self._writer.put(done)

    def release_later(self, run_id: str) -> None:
        """Release *run_id*'s lease at :meth:`flush` (interrupted by shutdown)."""
        self._released.append(run_id)

    def pending_ids(self) -> list[str]:
        """Runs whose completion is not recorded yet (their leases must be kept)."""
        return [done.run.run_id for done in self._writer.pending()]

    async def run(self) -> None:
        """Record batches until :meth:`flush` closes the queue (or cancelled)."""
        await self._writer.run()

    async def flush(self) -> None:
        """Record every queued completion, then release shutdown-interrupted leases."""
        self._writer.close()
        await self._writer.join()
        if self._released:
            released, self._released = self._released, []
            await self._store.release(owner=self._owner, run_ids=released, now=self._clock.now())
            log_event(logger, "run.released", count=len(released))

    async def _commit(self, batch: list[Done]) -> list[None]:
        while True:
            try:
                await self._record(batch)
            except Exception as exc:
                log_event(
                    logger,
                    "run.record_failed",
                    logging.ERROR,
                    count=len(batch),
                    error=f"{type(exc).__name__}: {exc}",
                )
                await anyio.sleep(RETRY_DELAY)
            else:
                return [None] * len(batch)

    async def _record(self, batch: list[Done]) -> None:
        recorded = await self._store.complete_many(
            owner=self._owner, completions=[d.completion for d in batch], now=self._clock.now()
        )
        for done in batch:
            run, completion = done.run, done.completion
            if run.run_id not in recorded:
                log_event(
                    logger,
                    "run.lease_lost",
                    logging.WARNING,
                    run_id=run.run_id,
                    graph_id=run.graph_id,
                    attempt=run.attempt,
                )
                continue
            self._series(run, completion.status).record(done.duration)
            level = logging.WARNING if completion.status is RunStatus.failed else logging.INFO
            if logger.isEnabledFor(level):  # no field dict per run when not logging
                _log_outcome(done, level)
        self.finished.notify()
        self._on_change()

    def _series(self, run: Run, status: RunStatus) -> _Series:
        key = (run.graph_id, run.trigger_source, status)
        series = self._series_cache.get(key)
        if series is None:
            series = _Series(
                finished=self._metrics.runs_finished.labels(
                    run.graph_id, run.trigger_source, status.value
                ),
                duration=self._metrics.run_duration.labels(run.graph_id),
            )
            self._series_cache[key] = series
        return series


def _log_outcome(done: Done, level: int) -> None:
    run, completion = done.run, done.completion
    fields: dict[str, Any] = {
        "run_id": run.run_id,
        "graph_id": run.graph_id,
        "attempt": run.attempt,
    }
    if completion.error is not None:
        fields["error_type"] = completion.error.type
        fields["error"] = completion.error.message
    log_event(
        logger,
        _EVENTS[completion.status],
        level,
        exc_info=done.exc,
        duration_ms=round(done.duration * 1000, 3),
        **fields,
    )
