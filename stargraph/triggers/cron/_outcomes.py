"""What follows a cron fire handed to the scheduler (a base class of
:class:`~stargraph.triggers.cron.loop.CronLoop`): its receipt is awaited and its lag recorded;
a failed commit is retried with per-trigger backoff (``FAIL_RETRY`` doubling up to
``FAIL_RETRY_MAX``, reset by the trigger's next committed fire) and logged as at most one
``cron.fire.retry`` line per trigger per ``RETRY_LOG_EVERY`` seconds; a fire an overlap policy
refused is counted and logged.
"""

from __future__ import annotations

import heapq
import logging
import math

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from stargraph._log import log_event
from stargraph._wakeup import Waker
from stargraph.clock import Clock
from stargraph.metrics import Metrics
from stargraph.scheduler.receipt import BatchReceipt, EnqueueReceipt
from stargraph.store.base import Enqueued
from stargraph.triggers.cron.interval import IntervalSpec, TimeSpec, jitter_offset
from stargraph.triggers.cron.schedule import from_epoch

__all__ = ["FAIL_RETRY", "FAIL_RETRY_MAX", "LABEL_LIMIT", "RETRY_LOG_EVERY", "FireOutcomes"]

logger = logging.getLogger("stargraph.triggers.cron")

FAIL_RETRY = 1.0  # seconds before the first retry of a fire whose commit failed
FAIL_RETRY_MAX = 30.0  # the cap of the per-trigger backoff (doubling from FAIL_RETRY)
RETRY_LOG_EVERY = 30.0  # seconds: at most one cron.fire.retry line per trigger per interval
LABEL_LIMIT = 1000  # above this many specs, cron metrics share the trigger_id label "_all"

Fire = tuple[int, int]  # (fire epoch, spec index)
Receipt = tuple[EnqueueReceipt | BatchReceipt, list[Fire]]  # one receipt, the fires it covers


class FireOutcomes:
    """The specs' retry heap, backoff counters, metric labels and wake-up; see the module
    docstring."""

    def __init__(self, specs: list[TimeSpec], clock: Clock, metrics: Metrics) -> None:
        self.specs, self.clock, self.metrics = specs, clock, metrics
        self._jitter = {
            i: s.jitter_seconds
            for i, s in enumerate(specs)
            if isinstance(s, IntervalSpec) and s.jitter_seconds
        }
        self._retry: list[tuple[float, int, int]] = []  # heap of (retry at, fire, spec index)
        self._failures: dict[int, int] = {}  # spec index -> consecutive failed commits
        self._unlogged: dict[int, tuple[int, float]] = {}  # -> (failures not logged, last line)
        self._waker = Waker()
        self._per_trigger_labels = len(specs) <= LABEL_LIMIT

    def due_at(self, i: int, fire: int) -> int:
        """When the planned fire *fire* of spec *i* is enqueued: the fire plus its jitter."""
        if self._jitter and i in self._jitter:
            return fire + jitter_offset(self.specs[i].trigger_id, fire, self._jitter[i])
        return fire

    def label(self, i: int) -> str:
        """The ``trigger_id`` label of spec *i* in cron metrics (bounded cardinality)."""
        return self.specs[i].trigger_id if self._per_trigger_labels else "_all"

    def wake(self) -> None:
        """Make the loop recompute its wake-up time now."""
        self._waker.wake()

    def _schedule_retry(self, i: int, fire: int, delay: float) -> None:
        heapq.heappush(self._retry, (self.clock.now().timestamp() + delay, fire, i))
        self.wake()

    async def _collect(self, receive: MemoryObjectReceiveStream[Receipt]) -> None:
        """Await receipts (draining the stream in batches) and record each fire's lag."""
        async for first in receive:
            batch = [first]
            while True:
                try:
                    batch.append(receive.receive_nowait())
                except anyio.WouldBlock:
                    break
            for receipt, fires in batch:
                outcomes: list[Enqueued | BaseException]
                if isinstance(receipt, BatchReceipt):
                    outcomes = await receipt
                else:
                    try:
                        outcomes = [await receipt]
                    except Exception as exc:
                        outcomes = [exc]
                stamp = self.clock.now().timestamp()
                for (fire, i), outcome in zip(fires, outcomes, strict=True):
                    self._settle(outcome, fire, i, stamp)

    def _settle(self, outcome: Enqueued | BaseException, fire: int, i: int, stamp: float) -> None:
        """Record one fire's outcome, committed at *stamp*: its lag, or a retry with backoff."""
        if isinstance(outcome, BaseException):
            failures = self._failures.get(i, 0) + 1
            self._failures[i] = failures
            delay = min(FAIL_RETRY * 2 ** min(failures - 1, 16), FAIL_RETRY_MAX)
            self._note_failure(i, fire, outcome, delay)
            self._schedule_retry(i, fire, delay)
            return
        if self._failures:
            self._recovered(i)
        if outcome.skipped:
            self._overlap_skipped(i, fire, outcome.run_id)
        elif not outcome.deduplicated:
            delay = stamp - self.due_at(i, fire)
            self.metrics.cron_fire_lag.labels(self.label(i)).observe(max(delay, 0.0))

    def _overlap_skipped(self, i: int, fire: int, blocker: str) -> None:
        spec = self.specs[i]
        self.metrics.trigger_fires_skipped.labels(self.label(i), "overlap").inc()
        log_event(
            logger,
            "trigger.fire.skipped",
            trigger_id=spec.trigger_id,
            fire=from_epoch(fire).isoformat(),
            reason="overlap",
            overlap=spec.overlap,
            unfinished_run_id=blocker,
        )

    def _note_failure(self, i: int, fire: int, exc: BaseException, delay: float) -> None:
        """Count a failed commit of spec *i*; one line per ``RETRY_LOG_EVERY`` with the count."""
        count, last = self._unlogged.get(i, (0, -math.inf))
        now = self.clock.now().timestamp()
        if now - last < RETRY_LOG_EVERY:
            self._unlogged[i] = (count + 1, last)
            return
        self._unlogged[i] = (0, now)
        log_event(
            logger,
            "cron.fire.retry",
            logging.WARNING,
            trigger_id=self.specs[i].trigger_id,
            fire=from_epoch(fire).isoformat(),
            failures=count + 1,
            retry_in=delay,
            error=f"{type(exc).__name__}: {exc}",
        )

    def _recovered(self, i: int) -> None:
        """A fire of spec *i* committed: reset its backoff, retry its other failed fires now."""
        failures = self._failures.pop(i, 0)
        if not failures:
            return
        unlogged, _ = self._unlogged.pop(i, (0, 0.0))
        log_event(
            logger,
            "cron.fire.recovered",
            trigger_id=self.specs[i].trigger_id,
            failures=failures,
            unlogged=unlogged,
        )
        now = self.clock.now().timestamp()
        self._retry = [(min(at, now), f, j) if j == i else (at, f, j) for at, f, j in self._retry]
        heapq.heapify(self._retry)
        self.wake()
