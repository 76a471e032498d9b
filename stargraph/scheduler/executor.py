"""The executor: runs claimed runs, each in its own cancel scope, and records their outcomes.

``max_concurrent_runs`` worker tasks live in the executor's task group and take claimed runs
from a ready queue (idle workers sleep on their own Event); each run executes inside its own
cancel scope in one of them (a pool, so a run does not pay for spawning a task: about 35-45 us
less per run).

A run's attempt ends in one of four ways:

- it returned (``succeeded``) or raised / timed out with no retry left (``failed``), or was
  cancelled on request (``cancelled``): a :class:`Completion` is queued and the
  :class:`~stargraph.scheduler.completer.Completer` records queued completions in batches with
  ``store.complete_many``;
- it raised a retryable error with attempts left: ``store.retry`` puts it back to ``pending``
  with a backoff delay;
- it was cancelled by shutdown: its lease is released (``store.release``) at the end;
- its lease was lost (another node rescued it): nothing is recorded.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any, Literal

import anyio
import attrs

from stargraph import _json
from stargraph._log import log_event
from stargraph._tracing import NOOP, AttemptSpan, RunTracer
from stargraph._wakeup import Broadcast
from stargraph.clock import Clock
from stargraph.metrics import Metrics
from stargraph.scheduler.completer import Completer, Done
from stargraph.scheduler.failure import run_error
from stargraph.scheduler.graphs import Graph, GraphRegistry, RunContext
from stargraph.scheduler.settings import SchedulerSettings
from stargraph.store.base import Completion, Run, RunError, RunStatus, RunStore

__all__ = ["Executor"]

logger = logging.getLogger("stargraph.scheduler")

StopReason = Literal["cancel", "shutdown", "lost"]
_PLAIN = frozenset({str, int, bool})  # JSON as they are; floats may be NaN, so they are checked


@attrs.define(eq=False)
class _Active:
    run: Run
    scope: anyio.CancelScope
    reason: StopReason | None = None
    claim: object | None = None  # the claim span's link, when tracing


class Executor:
    """Runs claimed runs inside one task group and records their outcomes."""

    def __init__(
        self,
        *,
        store: RunStore,
        graphs: GraphRegistry,
        clock: Clock,
        metrics: Metrics,
        owner: str,
        settings: SchedulerSettings,
        on_change: Callable[[], None],
        tracer: RunTracer = NOOP,
    ) -> None:
        self._store = store
        self._tracer = tracer
        self._graphs = graphs
        self._clock = clock
        self._metrics = metrics
        self._owner = owner
        self._settings = settings
        self._on_change = on_change  # a slot or a graph limit may have freed up
        self._active: dict[str, _Active] = {}
        self._completer = Completer(
            store=store,
            clock=clock,
            metrics=metrics,
            owner=owner,
            batch_size=settings.batch_size,
            on_change=on_change,
        )
        self._idle = Broadcast()  # notified when no run executes here
        self.finished = self._completer.finished  # notified after each batch is recorded
        self._ready: deque[_Active] = deque()  # started, waiting for a worker
        self._sleepers: deque[anyio.Event] = deque()  # idle workers
        self._serving = False
        self._limiter: anyio.CapacityLimiter | None = None

    # -- capacity and bookkeeping -----------------------------------------------------------

    @property
    def free(self) -> int:
        """Slots free for new runs on this node."""
        return self._settings.max_concurrent_runs - len(self._active)

    def is_local(self, run_id: str) -> bool:
        """True if *run_id* is executing here."""
        return run_id in self._active

    def leased_ids(self) -> list[str]:
        """Runs whose lease this node must keep renewing (executing or awaiting record)."""
        return [*self._active, *self._completer.pending_ids()]

    def cancel(self, run_id: str, reason: StopReason) -> bool:
        """Cancel a local run's scope; return False if it is not executing here."""
        act = self._active.get(run_id)
        if act is None:
            return False
        if act.reason is None:
            act.reason = reason
        act.scope.cancel()
        return True

    def cancel_all(self, reason: StopReason) -> int:
        """Cancel every local run (shutdown); return how many."""
        for run_id in list(self._active):
            self.cancel(run_id, reason)
        return len(self._active)

    async def wait_idle(self) -> None:
        """Return once no run executes here."""
        while self._active:
            await self._idle.wait()

    # -- task group ---------------------------------------------------------------------------

    async def serve(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Host the worker tasks and the completer until cancelled."""
        slots = self._settings.max_concurrent_runs
        self._limiter = anyio.CapacityLimiter(slots)
        try:
            async with anyio.create_task_group() as tg:
                for n in range(slots):
                    tg.start_soon(self._worker, name=f"stargraph worker {n}")
                tg.start_soon(self._completer.run, name="stargraph completer")
                self._serving = True
                task_status.started()
                await anyio.sleep_forever()
        finally:
            self._serving = False

    def start(self, run: Run, claim: object | None = None) -> None:
        """Hand a claimed run to an idle worker (the caller keeps within :attr:`free`).

        *claim* is the tracer's link to the claim span (``None`` when not tracing).
        """
        assert self._serving, "Executor.serve() is not running"
        act = _Active(run=run, scope=anyio.CancelScope(), claim=claim)
        self._active[run.run_id] = act
        if run.cancel_requested:
            self.cancel(run.run_id, "cancel")
        self._ready.append(act)
        if self._sleepers:
            self._sleepers.popleft().set()

    # perf: benchmarks/scheduler_burndown.py (a worker pool instead of a task per run)
    async def _worker(self) -> None:
        """Take started runs one at a time; sleep only when none is waiting (no hop per run)."""
        ready = self._ready
        while True:
            if ready:
                await self._execute(ready.popleft())
                continue
            wake = anyio.Event()
            self._sleepers.append(wake)
            try:
                await wake.wait()
            finally:
                if not wake.is_set():  # cancelled while idle
                    self._sleepers.remove(wake)

    async def _execute(self, act: _Active) -> None:
        run = act.run
        try:
            await self._attempt(act)
        except Exception as exc:  # a store failure while settling; the lease will expire
            log_event(
                logger,
                "run.settle_failed",
                logging.ERROR,
                run_id=run.run_id,
                graph_id=run.graph_id,
                attempt=run.attempt,
                error=f"{type(exc).__name__}: {exc}",
            )
        finally:
            del self._active[run.run_id]
            if not self._active:
                self._idle.notify()
            self._on_change()

    # -- one attempt --------------------------------------------------------------------------

    def _context(self, run: Run) -> RunContext:
        return RunContext(
            run_id=run.run_id,
            graph_id=run.graph_id,
            attempt=run.attempt,
            interruptions=run.interruptions,
            trigger_id=run.trigger_id,
            trigger_source=run.trigger_source,
            scheduled_fire=run.scheduled_fire,
            idempotency_key=run.idempotency_key,
        )

    async def _call(self, graph: Graph, run: Run) -> Any:
        ctx = self._context(run)
        params = dict(run.params)
        if graph.is_async:
            return await graph.fn(params, ctx)
        return await anyio.to_thread.run_sync(
            partial(graph.fn, params, ctx), abandon_on_cancel=True, limiter=self._limiter
        )

    async def _invoke(self, graph: Graph, run: Run) -> tuple[bool, Any]:
        """Return ``(True, result)``, or ``(False, None)`` when the timeout expired."""
        timeout = graph.policy.timeout
        if timeout is None:
            return True, await self._call(graph, run)
        with anyio.move_on_after(timeout):
            return True, await self._call(graph, run)
        return False, None

    async def _attempt(self, act: _Active) -> None:
        run = act.run
        if act.reason is not None:  # cancelled before it began: never call the graph
            await self._stopped(act, 0.0)
            return
        graph = self._graphs.get(run.graph_id)
        if logger.isEnabledFor(logging.INFO):  # no field dict per run when not logging
            log_event(
                logger, "run.started", run_id=run.run_id, graph_id=run.graph_id, attempt=run.attempt
            )
        with self._tracer.attempt(run, act.claim) as span:  # current for the graph's spans
            await self._settle(act, graph, span)

    async def _settle(self, act: _Active, graph: Graph, span: AttemptSpan) -> None:
        """Call the graph in the run's cancel scope and record how the attempt ended."""
        run = act.run
        started = time.perf_counter()
        ok, result, exc = False, None, None
        with act.scope:
            try:
                ok, result = await self._invoke(graph, run)
            except Exception as err:
                exc = err
        duration = time.perf_counter() - started
        if act.reason is not None:
            span.end(act.reason)
            await self._stopped(act, duration)
        elif exc is None and ok:
            completion = self._succeeded(run, result, duration)
            invalid = completion.error
            span.end(
                str(completion.status), None if invalid is None else TypeError(invalid.message)
            )
        else:
            timed_out = exc is None
            if exc is None:
                exc = TimeoutError(f"run exceeded its timeout of {graph.policy.timeout:g} s")
            span.end("timed_out" if timed_out else "failed", exc)
            await self._failed(graph, run, exc, duration)

    async def _stopped(self, act: _Active, duration: float) -> None:
        run = act.run
        if act.reason == "cancel":
            self._queue(run, Completion(run_id=run.run_id, status=RunStatus.cancelled), duration)
        elif act.reason == "shutdown":
            self._completer.release_later(run.run_id)
            log_event(
                logger,
                "run.interrupted",
                run_id=run.run_id,
                graph_id=run.graph_id,
                attempt=run.attempt,
                reason="shutdown",
            )
        else:
            log_event(
                logger,
                "run.lease_lost",
                logging.WARNING,
                run_id=run.run_id,
                graph_id=run.graph_id,
                attempt=run.attempt,
            )

    def _succeeded(self, run: Run, result: Any, duration: float) -> Completion:
        try:
            if not (result is None or type(result) in _PLAIN):
                _json.dumps(result)
        except (TypeError, ValueError) as err:
            error = RunError(
                type="InvalidResult",
                message=f"graph {run.graph_id!r} returned a value that is not JSON-serialisable "
                f"({type(result).__name__}): {err}",
            )
            completion = Completion(run_id=run.run_id, status=RunStatus.failed, error=error)
        else:
            completion = Completion(run_id=run.run_id, status=RunStatus.succeeded, result=result)
        self._queue(run, completion, duration)
        return completion

    async def _failed(self, graph: Graph, run: Run, exc: Exception, duration: float) -> None:
        error = run_error(exc)
        if graph.policy.retryable(exc) and run.attempt < run.max_attempts:
            delay = graph.policy.backoff(run.attempt, random.random())
            now = self._clock.now()
            await self._store.retry(
                run_id=run.run_id,
                owner=self._owner,
                not_before=now + timedelta(seconds=delay),
                error=error,
                now=now,
            )
            log_event(
                logger,
                "run.retrying",
                logging.WARNING,
                run_id=run.run_id,
                graph_id=run.graph_id,
                attempt=run.attempt,
                delay=round(delay, 3),
                error_type=error.type,
                error=error.message,
            )
            return
        failed = Completion(run_id=run.run_id, status=RunStatus.failed, error=error)
        self._queue(run, failed, duration, exc)

    def _queue(
        self, run: Run, completion: Completion, duration: float, exc: Exception | None = None
    ) -> None:
        self._completer.put(Done(run=run, completion=completion, duration=duration, exc=exc))

    async def flush(self) -> None:
        """Record every queued completion and release shutdown-interrupted leases."""
        await self._completer.flush()
