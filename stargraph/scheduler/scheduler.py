"""The :class:`Scheduler` facade: enqueue, cancel, inspect; owns the writer, dispatcher and loops.

Start it with ``async with scheduler:`` (or ``await task_group.start(scheduler.run)``) inside a
running event loop, after ``await store.open()``. Leaving the block shuts down gracefully:
enqueue is refused, claiming stops, running runs get ``shutdown_grace`` seconds to finish, the
rest are cancelled and their leases released, and queued enqueues are committed.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import AsyncGenerator, Iterable
from contextlib import asynccontextmanager
from typing import Any, Self

import anyio
from anyio import AsyncContextManagerMixin
from anyio.abc import TaskStatus

from stargraph._log import log_event
from stargraph._tracing import make_tracer
from stargraph.clock import Clock, SystemClock
from stargraph.errors import (
    RunNotFound,
    SchedulerClosed,
    StargraphRuntimeError,
)
from stargraph.lifecycle import LifecycleState
from stargraph.metrics import Metrics
from stargraph.scheduler._enqueue import Enqueuing
from stargraph.scheduler.dispatcher import Dispatcher
from stargraph.scheduler.executor import Executor
from stargraph.scheduler.graphs import Graph, GraphRegistry
from stargraph.scheduler.intake import Intake
from stargraph.scheduler.maintenance import Maintenance
from stargraph.scheduler.settings import SchedulerSettings
from stargraph.store.base import (
    Run,
    RunFilter,
    RunPage,
    RunStatus,
    RunStore,
)

__all__ = ["Scheduler"]

logger = logging.getLogger("stargraph.scheduler")

_CLEANUP_BOUND = 10.0  # seconds each shutdown cleanup step may take after the grace period


def _node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Scheduler(Enqueuing, AsyncContextManagerMixin):
    """Durable, deduplicated enqueue plus the claim/execute loop of one node.

    ``enqueue``, ``emit``, ``emit_many`` and ``submit`` come from
    :class:`~stargraph.scheduler._enqueue.Enqueuing`.
    """

    def __init__(
        self,
        store: RunStore,
        graphs: GraphRegistry | Iterable[Graph] = (),
        *,
        settings: SchedulerSettings | None = None,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        node_id: str | None = None,
        claim_graphs: Iterable[str] | None = None,
    ) -> None:
        """*claim_graphs*: the graph ids this node claims (default: every registered graph)."""
        self.store = store
        self.graphs = graphs if isinstance(graphs, GraphRegistry) else GraphRegistry(graphs)
        self.settings = settings or SchedulerSettings()
        self.clock: Clock = clock or SystemClock()
        self.metrics = metrics or Metrics()
        self.node_id = node_id or _node_id()
        #: The tracing hooks (``docs/observability.md``): a no-op unless OpenTelemetry is on.
        self.tracing = make_tracer(self.settings.tracing)
        common: dict[str, Any] = {
            "store": store,
            "clock": self.clock,
            "owner": self.node_id,
            "settings": self.settings,
        }
        self._executor = Executor(
            graphs=self.graphs, metrics=self.metrics, on_change=self.wake, tracer=self.tracing,
            **common,
        )  # fmt: skip
        claimable = self.graphs
        if claim_graphs is not None:
            claimable = GraphRegistry(self.graphs.get(graph_id) for graph_id in claim_graphs)
        self._dispatcher = Dispatcher(
            graphs=claimable, executor=self._executor, tracer=self.tracing, **common
        )
        self._maintenance = Maintenance(
            executor=self._executor, metrics=self.metrics, wake=self.wake, **common
        )
        self._intake = Intake(
            store,
            self.metrics,
            capacity=self.settings.intake_capacity,
            batch_size=self.settings.batch_size,
            on_commit=self.wake,
            tracer=self.tracing,
        )
        self._state = LifecycleState.new
        self._services: anyio.CancelScope | None = None
        self._dispatch_scope: anyio.CancelScope | None = None
        self._writer_done: anyio.Event | None = None
        self._dispatcher_done: anyio.Event | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def state(self) -> LifecycleState:
        """Where the scheduler stands in its single-use lifecycle."""
        return self._state

    @property
    def running(self) -> bool:
        """True between start and the beginning of shutdown."""
        return self._state is LifecycleState.running

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncGenerator[Self, None]:
        """Start the services; on leaving, drain gracefully (see the module docstring).

        The body's own error propagates unwrapped (it is not the task group's business) once
        the drain is over; cancellation passes through the task group as usual.
        """
        if self._state is not LifecycleState.new:
            raise StargraphRuntimeError("A Scheduler starts only once; create a new one")
        self._state = LifecycleState.starting
        self._intake.open()
        self._writer_done = anyio.Event()
        self._dispatcher_done = anyio.Event()
        self._services = anyio.CancelScope(shield=True)
        error: Exception | None = None
        async with anyio.create_task_group() as tg:
            try:
                await tg.start(self._serve, name=self._task_name("services"))
                self._state = LifecycleState.running
                log_event(
                    logger,
                    "scheduler.started",
                    node_id=self.node_id,
                    max_concurrent_runs=self.settings.max_concurrent_runs,
                    graphs=len(self.graphs),
                )
                yield self
            except Exception as exc:
                error = exc
            finally:
                await self._stop()
        if error is not None:
            raise error

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until cancelled (for ``await task_group.start(scheduler.run)``)."""
        async with self:
            task_status.started()
            await anyio.sleep_forever()

    def _task_name(self, service: str) -> str:
        return f"stargraph.scheduler:{service}@{self.node_id}"

    async def _serve(self, *, task_status: TaskStatus[None]) -> None:
        """Run every service under the one shielded scope, each started in order.

        Outside cancellation (the host's task group stopping) must not kill the writer, the
        executor or the heartbeat before the graceful drain has run: only :meth:`_stop`
        ends this scope, by cancelling it or by the deadline it sets when shutdown begins.
        """
        assert self._services is not None
        m = self._maintenance
        with self._services:
            async with anyio.create_task_group() as tg:
                for name, service in (
                    ("executor", self._executor.serve),
                    ("dispatcher", self._dispatch),
                    ("writer", self._write),
                    ("heartbeat", m.heartbeat_loop),
                    ("rescue", m.rescue_loop),
                    ("prune", m.prune_loop),
                    ("watch", m.watch_store),
                ):
                    await tg.start(service, name=self._task_name(name))
                task_status.started()

    async def _dispatch(self, *, task_status: TaskStatus[None]) -> None:
        """The dispatcher, in a cancel scope of its own: shutdown stops claiming first."""
        assert self._dispatcher_done is not None
        try:
            with anyio.CancelScope() as self._dispatch_scope:
                await self._dispatcher.run(task_status=task_status)
        finally:
            self._dispatcher_done.set()

    async def _write(self, *, task_status: TaskStatus[None]) -> None:
        """The intake writer; returns once the intake is closed and drained."""
        assert self._writer_done is not None
        task_status.started()
        try:
            await self._intake.run_writer()
        finally:
            self._writer_done.set()

    async def _stop(self) -> None:
        """Drain (if the start got that far), then end the services' scope; never hangs.

        The drain is shielded and bounded; the same bound becomes the services' deadline when
        shutdown begins, so nothing outlives it even if a cleanup step misbehaves.
        """
        assert self._services is not None
        started = self._state is LifecycleState.running
        self._state = LifecycleState.stopping
        try:
            if started:
                bound = self.settings.shutdown_grace + 5 * _CLEANUP_BOUND
                self._services.deadline = anyio.current_time() + bound
                with anyio.move_on_after(bound, shield=True):
                    await self._shutdown()
            else:
                self._intake.finish(SchedulerClosed("The scheduler failed to start"))
        finally:
            self._state = LifecycleState.stopped
            self._services.cancel()
            if started:
                log_event(logger, "scheduler.stopped", node_id=self.node_id)

    async def _shutdown(self) -> None:
        assert self._dispatch_scope is not None and self._writer_done is not None
        assert self._dispatcher_done is not None
        self._intake.close()
        self._dispatch_scope.cancel()
        with anyio.move_on_after(_CLEANUP_BOUND):  # a claim in flight hands its runs over first
            await self._dispatcher_done.wait()
        with anyio.move_on_after(self.settings.shutdown_grace):
            await self._executor.wait_idle()
        if cancelled := self._executor.cancel_all("shutdown"):
            log_event(
                logger,
                "scheduler.shutdown_cancelled",
                count=cancelled,
                grace=self.settings.shutdown_grace,
            )
        with anyio.move_on_after(_CLEANUP_BOUND):
            await self._executor.wait_idle()
        with anyio.move_on_after(_CLEANUP_BOUND):
            await self._executor.flush()
        with anyio.move_on_after(_CLEANUP_BOUND):
            await self._writer_done.wait()
        failed = self._intake.finish(SchedulerClosed("The scheduler stopped before committing"))
        if failed:
            log_event(
                logger,
                "run.enqueue_failed",
                logging.ERROR,
                count=failed,
                error="scheduler stopped before the writer drained the intake",
            )

    def wake(self) -> None:
        """Nudge the dispatcher to claim now."""
        self._dispatcher.wake()

    # -- runs -----------------------------------------------------------------------------------

    async def get_run(self, run_id: str) -> Run:
        """Return the run; RunNotFound if the store does not hold it."""
        run = await self.store.get_run(run_id)
        if run is None:
            raise RunNotFound(run_id)
        return run

    async def list_runs(
        self, flt: RunFilter | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> RunPage:
        """Return runs matching *flt*, newest first, one page at a time."""
        return await self.store.list_runs(flt or RunFilter(), limit=limit, cursor=cursor)

    async def wait_run(self, run_id: str) -> Run:
        """Return the run once it is terminal (wrap in ``anyio.fail_after`` to bound it)."""
        while True:
            run = await self.get_run(run_id)
            if run.finished:
                return run
            await self._executor.finished.wait(self.settings.poll_interval)

    async def cancel(self, run_id: str) -> Run:
        """Cancel a run and return it.

        Pending: cancelled at once. Running here: its scope is cancelled and the run is
        returned once recorded ``cancelled``. Running on another node: flagged; that node's
        heartbeat cancels it (the returned run is still ``running``). Finished: unchanged.
        """
        run = await self.store.request_cancel(run_id, now=self.clock.now())
        if run is None:
            raise RunNotFound(run_id)
        if run.status is RunStatus.running and self._executor.cancel(run_id, "cancel"):
            log_event(
                logger,
                "run.cancel_requested",
                run_id=run_id,
                graph_id=run.graph_id,
                attempt=run.attempt,
            )
            with anyio.move_on_after(_CLEANUP_BOUND):
                return await self.wait_run(run_id)
            return await self.get_run(run_id)
        return run

    async def prune(self) -> int:
        """Delete finished runs older than the retention window now; return how many."""
        return await self._maintenance.prune()

    async def rescue_expired(self) -> int:
        """Requeue runs whose lease expired now; return how many."""
        return await self._maintenance.rescue()

    def intake_depth(self) -> int:
        """Enqueues accepted but not yet committed."""
        return self._intake.depth()
