"""The dispatcher: claims due runs up to the free capacity and hands them to the executor.

It wakes when a local enqueue commits, when a run finishes (a slot or a graph limit freed up),
when the store reports outside work (``store.wait_for_work``: PostgreSQL notifications, or a
plain poll on SQLite), and at the earliest ``not_before`` of a pending run (retry backoff).
"""

from __future__ import annotations

import logging
import time
from typing import NoReturn

import anyio
from anyio.abc import TaskStatus
from anyio.lowlevel import checkpoint

from stargraph._log import log_event
from stargraph._tracing import NOOP, RunTracer
from stargraph._wakeup import Waker
from stargraph.clock import Clock
from stargraph.errors import StoreError
from stargraph.scheduler.executor import Executor
from stargraph.scheduler.graphs import GraphRegistry
from stargraph.scheduler.settings import SchedulerSettings
from stargraph.store.base import Run, RunStore

__all__ = ["Dispatcher"]

logger = logging.getLogger("stargraph.scheduler")

CLAIM_BATCH = 256
CLAIM_BOUND = 10.0  # seconds a claim may take (shielded) before it is abandoned


class Dispatcher:
    """Claims runs for one node; call :meth:`wake` to make it look at the store now."""

    def __init__(
        self,
        *,
        store: RunStore,
        graphs: GraphRegistry,
        executor: Executor,
        clock: Clock,
        owner: str,
        settings: SchedulerSettings,
        tracer: RunTracer = NOOP,
    ) -> None:
        self._store = store
        self._tracer = tracer
        self._graphs = graphs
        self._executor = executor
        self._clock = clock
        self._owner = owner
        self._settings = settings
        self._waker = Waker()

    def wake(self) -> None:
        """Make the dispatcher claim again as soon as it can (sync, any task of the loop)."""
        self._waker.wake()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> NoReturn:
        """Claim and dispatch until cancelled; ready at once.

        Error policy: a failed cycle (store error) is logged as ``dispatcher.error`` and retried
        after ``poll_interval``; the dispatcher never stops on its own.
        """
        task_status.started()
        while True:
            try:
                timeout = await self._cycle()
            except Exception as exc:
                log_event(
                    logger, "dispatcher.error", logging.ERROR, error=f"{type(exc).__name__}: {exc}"
                )
                timeout = self._settings.poll_interval
            await self._waker.wait(timeout)

    async def _claim(self, want: int) -> list[Run]:
        """Claim up to *want* runs, shielded: a claim that commits while the dispatcher is
        being stopped still returns its runs, to be started (or released by the shutdown)
        instead of stranded under this node's lease. The shield lasts at most ``CLAIM_BOUND``
        seconds (or a lease, if shorter), so a hung store cannot hold a shutdown: a claim
        that slow is abandoned and counts as a failed cycle (runs it may still commit are
        rescued when their lease expires)."""
        bound = min(self._settings.lease_seconds, CLAIM_BOUND)
        await checkpoint()  # a stopped dispatcher ends here, before it claims again
        with anyio.CancelScope(shield=True) as scope:
            scope.deadline = anyio.current_time() + bound
            return await self._store.claim(
                owner=self._owner,
                limit=want,
                now=self._clock.now(),
                lease_seconds=self._settings.lease_seconds,
                graph_limits=self._graphs.graph_limits(),
                graph_ids=self._graphs.ids(),
            )
        raise StoreError(f"claim took longer than {bound} s; abandoned")

    async def _cycle(self) -> float:
        """Claim until nothing more is due or no slot is free; return how long to sleep."""
        poll = self._settings.poll_interval
        while True:
            free = self._executor.free
            if free <= 0 or not len(self._graphs):
                return poll
            want = min(free, CLAIM_BATCH)
            started = time.time_ns()
            runs = await self._claim(want)
            claim = self._tracer.claimed(runs, started, self._owner) if runs else None
            for run in runs:  # no checkpoint until every claimed run is handed over
                self._executor.start(run, claim)
            if len(runs) < want:
                break
        due = await self._store.next_due()  # a delayed run: wake at its not_before
        if due is None:
            return poll
        delay = (due - self._clock.now()).total_seconds()
        # A due run we could not claim waits on a graph limit or another node (or on the
        # completions of the runs just claimed, which wake us): poll for it.
        return delay if 0 < delay < poll else poll
