"""Background loops: lease heartbeat, expired-lease rescue, retention pruning, store watch.

Error policy (every loop): a store error is logged as ``scheduler.loop_failed`` and the step is
tried again on the loop's next tick, so a locked or briefly unreachable database never takes
the scheduler down. The loops run until cancelled (``-> NoReturn``) and are ready at once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import NoReturn

import anyio
from anyio.abc import TaskStatus

from stargraph._log import log_event
from stargraph.clock import Clock
from stargraph.metrics import Metrics
from stargraph.scheduler.executor import Executor
from stargraph.scheduler.settings import SchedulerSettings
from stargraph.store.base import RunStore

__all__ = ["Maintenance"]

logger = logging.getLogger("stargraph.scheduler")


class Maintenance:
    """The periodic work one scheduler does besides claiming and running."""

    def __init__(
        self,
        *,
        store: RunStore,
        executor: Executor,
        clock: Clock,
        metrics: Metrics,
        owner: str,
        settings: SchedulerSettings,
        wake: Callable[[], None],
    ) -> None:
        self._store = store
        self._executor = executor
        self._clock = clock
        self._metrics = metrics
        self._owner = owner
        self._settings = settings
        self._wake = wake

    async def _every(
        self, name: str, interval: float, step: Callable[[], Awaitable[object]]
    ) -> NoReturn:
        """Run *step* every *interval* seconds; log a failed step and carry on."""
        while True:
            try:
                await step()
            except Exception as exc:
                log_event(
                    logger,
                    "scheduler.loop_failed",
                    logging.ERROR,
                    loop=name,
                    error=f"{type(exc).__name__}: {exc}",
                )
            await anyio.sleep(interval)

    async def heartbeat_loop(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Renew the leases of local runs; apply lost leases and remote cancel requests.

        Error policy: log and retry next tick (a lease outlives a few missed renewals).
        """
        task_status.started()
        await anyio.sleep(self._settings.heartbeat_every)
        await self._every("heartbeat", self._settings.heartbeat_every, self.heartbeat)

    async def heartbeat(self) -> None:
        """One lease renewal pass."""
        run_ids = self._executor.leased_ids()
        if not run_ids:
            return
        held, cancel_requested = await self._store.heartbeat(
            owner=self._owner,
            run_ids=run_ids,
            now=self._clock.now(),
            lease_seconds=self._settings.lease_seconds,
        )
        for run_id in run_ids:
            if run_id not in held:
                self._executor.cancel(run_id, "lost")
        for run_id in cancel_requested:
            self._executor.cancel(run_id, "cancel")

    async def rescue_loop(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Requeue runs whose lease expired (their node died).

        Error policy: log and retry next tick.
        """
        task_status.started()
        await self._every("rescue", self._settings.rescue_every, self.rescue)

    async def rescue(self) -> int:
        """One rescue pass; return how many runs were requeued, failed or cancelled.

        Each run requeued or failed was interrupted (its process died or stalled): counted in
        ``stargraph_runs_interrupted_total{graph_id}``.
        """
        rescued = await self._store.rescue_expired(now=self._clock.now())
        if rescued:
            moved = Counter(status for _, status in rescued)
            log_event(logger, "run.rescued", count=len(rescued), outcomes=dict(moved))
            for graph_id, count in Counter(g for g, s in rescued if s != "cancelled").items():
                self._metrics.runs_interrupted.labels(graph_id).inc(count)
            self._wake()
        return len(rescued)

    async def prune_loop(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Delete finished runs older than the retention window, now and periodically.

        Error policy: log and retry next tick.
        """
        task_status.started()
        await self._every("prune", self._settings.prune_every, self.prune)

    async def prune(self) -> int:
        """One retention pass; return how many runs were deleted."""
        cutoff = self._clock.now() - timedelta(days=self._settings.retention_days)
        deleted = await self._store.prune(finished_before=cutoff)
        if deleted:
            log_event(logger, "run.pruned", count=deleted, finished_before=cutoff.isoformat())
        return deleted

    async def watch_store(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Wake the dispatcher whenever the store says outside work may exist.

        Error policy: log, wait ``poll_interval``, wake the dispatcher anyway (so a broken
        notification channel degrades to polling) and watch again.
        """
        task_status.started()
        while True:
            try:
                await self._store.wait_for_work(self._settings.poll_interval)
            except Exception as exc:
                log_event(
                    logger,
                    "scheduler.loop_failed",
                    logging.ERROR,
                    loop="watch",
                    error=f"{type(exc).__name__}: {exc}",
                )
                await anyio.sleep(self._settings.poll_interval)
            self._wake()
