"""The enqueue side of :class:`~stargraph.scheduler.Scheduler`: ``enqueue``, ``emit``,
``emit_many`` and ``submit`` (checks, run ids, the put on the intake), as a base class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from stargraph._tracing import RunTracer
from stargraph.clock import Clock
from stargraph.errors import InvalidParams, SchedulerClosed
from stargraph.lifecycle import LifecycleState
from stargraph.scheduler._params import (
    PLANNED_SOURCES,
    new_run_id,
    snapshot_params,
    stored_source,
)
from stargraph.scheduler.graphs import Graph, GraphRegistry
from stargraph.scheduler.intake import Intake
from stargraph.scheduler.receipt import BatchReceipt, Enqueued, EnqueueReceipt
from stargraph.store.base import CursorAdvance, EnqueueRequest, NewRun, Nonce
from stargraph.triggers import (
    TriggerEvent,
    TriggerSource,
    check_fire_time,
    check_idempotency_key,
    check_trigger_id,
)

__all__ = ["Enqueuing"]


class Enqueuing:
    """Enqueue methods over the scheduler's graphs, clock, tracer, intake and state."""

    graphs: GraphRegistry
    clock: Clock
    tracing: RunTracer
    _intake: Intake
    _state: LifecycleState

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
