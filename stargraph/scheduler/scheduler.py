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
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Self

import anyio
from anyio import AsyncContextManagerMixin
from anyio.abc import TaskStatus

from stargraph._log import log_event
from stargraph._tracing import make_tracer
from stargraph.clock import Clock, SystemClock
from stargraph.errors import (
    InvalidParams,
    RunNotFound,
    SchedulerClosed,
    StargraphRuntimeError,
)
from stargraph.lifecycle import LifecycleState
from stargraph.metrics import Metrics
from stargraph.scheduler._params import (
    PLANNED_SOURCES,
    new_run_id,
    snapshot_params,
    stored_source,
)
from stargraph.scheduler.dispatcher import Dispatcher
from stargraph.scheduler.executor import Executor
from stargraph.scheduler.graphs import Graph, GraphRegistry
from stargraph.scheduler.intake import Intake
from stargraph.scheduler.maintenance import Maintenance
from stargraph.scheduler.receipt import BatchReceipt, Enqueued, EnqueueReceipt
from stargraph.scheduler.settings import SchedulerSettings
from stargraph.store.base import (
    CursorAdvance,
    EnqueueRequest,
    NewRun,
    Nonce,
    Run,
    RunFilter,
    RunPage,
    RunStatus,
    RunStore,
)
from stargraph.triggers import (
    TriggerEvent,
    TriggerSource,
    check_fire_time,
    check_idempotency_key,
    check_trigger_id,
)

__all__ = ["Scheduler"]

logger = logging.getLogger("stargraph.scheduler")

_CLEANUP_BOUND = 10.0  # seconds each shutdown cleanup step may take after the grace period


def _node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Scheduler(AsyncContextManagerMixin):
    """Durable, deduplicated enqueue plus the claim/execute loop of one node."""

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

    # -- enqueue --------------------------------------------------------------------------------

    def enqueue(
        self,
        graph_id: str,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        *,
        trigger_id: str | None = None,
        trigger_source: TriggerSource | str = TriggerSource.manual,
        scheduled_fire: datetime | None = None,
        cursor: CursorAdvance | None = None,
        nonce: Nonce | None = None,
        retry_of: str | None = None,
        not_before: datetime | None = None,
    ) -> EnqueueReceipt:
        """Queue a run without waiting; ``await`` the receipt for the durable outcome.

        Raises at once: UnknownGraph, InvalidParams (params not a JSON object, a bad key, trigger
        id, fire time, ``not_before`` or trigger source; a string no store can hold, see
        :func:`~stargraph._json.storable_text`), SchedulerBusy (intake full), SchedulerClosed
        (not running). A *cursor* or webhook *nonce* commits in the run's transaction
        (``Enqueued.replay`` reports a nonce already recorded). *retry_of* links the run to
        the run it retries. A timezone-aware *not_before* delays the run: it stays ``pending``
        until then (a past one means now).
        """
        if self._state is not LifecycleState.running:
            raise self._closed()
        graph = self.graphs.get(graph_id)
        clean = snapshot_params(params, graph_id)
        if idempotency_key is None:
            key = new_run_id()
        else:
            key = check_idempotency_key(idempotency_key, error=InvalidParams)
        if scheduled_fire is not None:
            check_fire_time(scheduled_fire, error=InvalidParams)
        if not_before is not None:
            check_fire_time(not_before, what="not_before", error=InvalidParams)
        if trigger_id is not None:
            check_trigger_id(trigger_id, error=InvalidParams)
        source = stored_source(trigger_source)
        return self._put(
            graph, clean, key, trigger_id, source, scheduled_fire, cursor, nonce, retry_of,
            not_before=not_before,
        )  # fmt: skip

    def emit(
        self,
        event: TriggerEvent,
        *,
        graph_id: str,
        source: TriggerSource = TriggerSource.plugin,
        cursor: CursorAdvance | None = None,
        nonce: Nonce | None = None,
        overlap: str | None = None,
    ) -> EnqueueReceipt:
        """Queue a run of *graph_id* for a :class:`TriggerEvent`; like :meth:`enqueue`.

        The event's payload becomes the params, its key and trigger id are the run's; its
        ``scheduled_fire`` is recorded for time-based sources only (``source.planned``).
        *overlap* (a time trigger's policy) is decided in the insert's transaction; a refused
        fire resolves with ``Enqueued.skipped``.
        """
        if self._state is not LifecycleState.running:
            raise self._closed()
        graph = self.graphs.get(graph_id)
        clean = snapshot_params(event.payload, graph_id)
        value = stored_source(source)
        fire = event.scheduled_fire if value in PLANNED_SOURCES else None
        key, trigger_id = event.idempotency_key, event.trigger_id
        return self._put(graph, clean, key, trigger_id, value, fire, cursor, nonce, overlap=overlap)

    def emit_many(
        self,
        events: Sequence[TriggerEvent],
        *,
        graph_id: str | Sequence[str],
        source: TriggerSource = TriggerSource.plugin,
        cursors: bool = False,
    ) -> BatchReceipt:
        """Queue one run per event, all or none, without waiting; like :meth:`emit` for each.

        *graph_id* is one graph for every event, or one per event. With *cursors*, each event
        also advances its trigger's cursor to its ``scheduled_fire`` (a time trigger's fires).
        Raises at once, queueing nothing, as :meth:`emit` does for any event (SchedulerBusy when
        the intake cannot take them all). ``await`` the :class:`BatchReceipt` for one outcome
        per event. One call costs a fraction of as many :meth:`emit` calls (one receipt, one
        put): the cron loop hands each same-second burst over this way.
        """
        if self._state is not LifecycleState.running:
            raise self._closed()
        ids = [graph_id] * len(events) if isinstance(graph_id, str) else list(graph_id)
        if len(ids) != len(events):
            raise InvalidParams(f"emit_many got {len(events)} events but {len(ids)} graph ids")
        graphs = {gid: self.graphs.get(gid) for gid in dict.fromkeys(ids)}
        value = stored_source(source)
        planned = value in PLANNED_SOURCES
        now = self.clock.now()
        requests, spans = [], []
        for event, gid in zip(events, ids, strict=True):
            fire = event.scheduled_fire
            run, span = self._new_run(
                graphs[gid], snapshot_params(event.payload, gid), event.idempotency_key,
                event.trigger_id, value, fire if planned else None, now, now,
            )  # fmt: skip
            cursor = CursorAdvance(trigger_id=event.trigger_id, cursor=fire) if cursors else None
            requests.append(EnqueueRequest(run=run, cursor=cursor))
            spans.append(span)
        receipt = BatchReceipt(len(requests))
        self._intake.put_many(requests, receipt, spans)
        return receipt

    def _closed(self) -> SchedulerClosed:
        return SchedulerClosed(f"The scheduler is {self._state}; enqueue needs a running one")

    def _put(
        self,
        graph: Graph,
        params: dict[str, Any],
        key: str,
        trigger_id: str | None,
        source: str,
        fire: datetime | None,
        cursor: CursorAdvance | None,
        nonce: Nonce | None = None,
        retry_of: str | None = None,
        *,
        not_before: datetime | None = None,
        overlap: str | None = None,
    ) -> EnqueueReceipt:
        now = self.clock.now()
        due = now if not_before is None or not_before <= now else not_before
        run, span = self._new_run(graph, params, key, trigger_id, source, fire, now, due, retry_of)
        receipt = EnqueueReceipt(graph_id=graph.graph_id, idempotency_key=key)
        request = EnqueueRequest(run=run, cursor=cursor, nonce=nonce, overlap=overlap)
        self._intake.put(request, receipt, span)
        return receipt

    def _new_run(
        self,
        graph: Graph,
        params: dict[str, Any],
        key: str,
        trigger_id: str | None,
        source: str,
        fire: datetime | None,
        now: datetime,
        due: datetime,
        retry_of: str | None = None,
    ) -> tuple[NewRun, object | None]:
        """The run to insert (with a fresh id) and its enqueue span's handle, if traced."""
        stored, span = None, None
        if self.tracing.enabled:
            stored, span = self.tracing.enqueue(graph.graph_id, key, trigger_id, source)
        run = NewRun(
            run_id=new_run_id(),
            graph_id=graph.graph_id,
            idempotency_key=key,
            params=params,
            trigger_id=trigger_id,
            trigger_source=source,
            scheduled_fire=fire,
            enqueued_at=now,
            not_before=due,
            max_attempts=graph.policy.max_attempts,
            max_interruptions=graph.policy.max_interruptions,
            retry_of=retry_of,
            trace_context=stored,
        )
        return run, span

    async def submit(
        self,
        graph_id: str,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        *,
        trigger_id: str | None = None,
        trigger_source: TriggerSource | str = TriggerSource.manual,
        scheduled_fire: datetime | None = None,
        cursor: CursorAdvance | None = None,
        nonce: Nonce | None = None,
        retry_of: str | None = None,
        not_before: datetime | None = None,
    ) -> Enqueued:
        """Enqueue and wait until the run is durable."""
        return await self.enqueue(
            graph_id,
            params,
            idempotency_key,
            trigger_id=trigger_id,
            trigger_source=trigger_source,
            scheduled_fire=scheduled_fire,
            cursor=cursor,
            nonce=nonce,
            retry_of=retry_of,
            not_before=not_before,
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
