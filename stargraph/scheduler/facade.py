"""What a hosted trigger plugin gets as ``deps["scheduler"]``: the scheduler, seen as the plugin.

The trigger host wraps the runtime's :class:`~stargraph.scheduler.Scheduler` once per plugin
(:func:`scheduler_for_plugin`), so a run the plugin enqueues without naming a source is recorded
as ``trigger_source="plugin"`` with ``trigger_id`` = the plugin's name (DESIGN §2), while the
REST API and the CLI, which call the scheduler itself, record ``manual``. Everything else
(``graphs``, ``store``, ``get_run`` ...) is the scheduler's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from stargraph.clock import Clock
from stargraph.metrics import Metrics
from stargraph.scheduler.graphs import GraphRegistry
from stargraph.scheduler.receipt import BatchReceipt, Enqueued, EnqueueReceipt
from stargraph.scheduler.scheduler import Scheduler
from stargraph.store.base import CursorAdvance, Nonce, RunStore
from stargraph.triggers import TriggerEvent, TriggerSource

__all__ = ["PluginScheduler", "scheduler_for_plugin"]


class PluginScheduler:
    """A per-plugin view of a :class:`Scheduler` (an :class:`~stargraph.triggers.Enqueuer`)."""

    __slots__ = ("scheduler", "trigger_id")

    def __init__(self, scheduler: Scheduler, *, trigger_id: str) -> None:
        self.scheduler = scheduler
        self.trigger_id = trigger_id

    def __repr__(self) -> str:
        return f"<PluginScheduler trigger_id={self.trigger_id!r} of {self.scheduler!r}>"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.scheduler, name)

    @property
    def graphs(self) -> GraphRegistry:
        return self.scheduler.graphs

    @property
    def store(self) -> RunStore:
        return self.scheduler.store

    @property
    def clock(self) -> Clock:
        return self.scheduler.clock

    @property
    def metrics(self) -> Metrics:
        return self.scheduler.metrics

    def enqueue(
        self,
        graph_id: str,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        *,
        trigger_id: str | None = None,
        trigger_source: TriggerSource | str = TriggerSource.plugin,
        scheduled_fire: datetime | None = None,
        cursor: CursorAdvance | None = None,
        not_before: datetime | None = None,
    ) -> EnqueueReceipt:
        """:meth:`Scheduler.enqueue`, recorded as this plugin's unless told otherwise."""
        return self.scheduler.enqueue(
            graph_id,
            params,
            idempotency_key,
            trigger_id=self.trigger_id if trigger_id is None else trigger_id,
            trigger_source=trigger_source,
            scheduled_fire=scheduled_fire,
            cursor=cursor,
            not_before=not_before,
        )

    async def submit(
        self,
        graph_id: str,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        *,
        trigger_id: str | None = None,
        trigger_source: TriggerSource | str = TriggerSource.plugin,
        scheduled_fire: datetime | None = None,
        cursor: CursorAdvance | None = None,
        not_before: datetime | None = None,
    ) -> Enqueued:
        """Enqueue (as :meth:`enqueue`) and wait until the run is durable."""
        return await self.enqueue(
            graph_id,
            params,
            idempotency_key,
            trigger_id=trigger_id,
            trigger_source=trigger_source,
            scheduled_fire=scheduled_fire,
            cursor=cursor,
            not_before=not_before,
        )

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
        """:meth:`Scheduler.emit` (the event names its own trigger id)."""
        return self.scheduler.emit(
            event, graph_id=graph_id, source=source, cursor=cursor, nonce=nonce, overlap=overlap
        )

    def emit_many(
        self,
        events: Sequence[TriggerEvent],
        *,
        graph_id: str | Sequence[str],
        source: TriggerSource = TriggerSource.plugin,
        cursors: bool = False,
    ) -> BatchReceipt:
        """:meth:`Scheduler.emit_many` (each event names its own trigger id)."""
        return self.scheduler.emit_many(events, graph_id=graph_id, source=source, cursors=cursors)


def scheduler_for_plugin(scheduler: object, plugin_name: str) -> object:
    """Wrap *scheduler* for the plugin *plugin_name*; anything but a Scheduler is returned as is."""
    if isinstance(scheduler, Scheduler):
        return PluginScheduler(scheduler, trigger_id=plugin_name)
    return scheduler
