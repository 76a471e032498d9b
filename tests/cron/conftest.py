"""Helpers for cron tests: a Runtime on a ManualClock with a recording graph."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio

from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, RunContext
from stargraph.store.base import Run, RunFilter, RunStore
from stargraph.testing import ManualClock
from stargraph.triggers.cron import CronSpec, CronTrigger

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


class Recorder:
    """A graph that records the RunContext of every run it executes."""

    def __init__(self) -> None:
        self.contexts: list[RunContext] = []

    async def __call__(self, params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        self.contexts.append(ctx)
        return {"ok": True}


def cron_of(rt: Runtime) -> CronTrigger:
    for _name, obj in rt.host.triggers():
        if isinstance(obj, CronTrigger):
            return obj
    raise AssertionError(f"no CronTrigger hosted: {rt.host.statuses()}")


@asynccontextmanager
async def cron_runtime(
    url: str,
    specs: list[CronSpec],
    clock: ManualClock,
    recorder: Recorder | None = None,
    graph_ids: tuple[str, ...] = ("g",),
) -> AsyncIterator[Runtime]:
    rec = recorder or Recorder()
    graphs = [Graph(graph_id=g, fn=rec) for g in graph_ids]
    async with Runtime(
        url, graphs=graphs, deps={"cron_specs": specs}, clock=clock, graph_entry_points=False
    ) as rt:
        yield rt


async def runs_of(store: RunStore, trigger_id: str | None = None) -> list[Run]:
    page = await store.list_runs(RunFilter(trigger_id=trigger_id), limit=10_000, cursor=None)
    return sorted(page.items, key=lambda r: (r.scheduled_fire or T0, r.enqueued_at))


async def wait_for(check: Callable[[], Any], timeout: float = 5.0) -> None:
    """Poll the async *check* until it returns truthy."""
    with anyio.fail_after(timeout):
        while not await check():
            await anyio.sleep(0.01)


def step(clock: ManualClock, seconds: float) -> None:
    clock.advance(seconds)


class Counting:
    """Wraps a cron loop's scheduler: counts its ``emit`` / ``emit_many`` calls, and enqueue
    attempts per idempotency key (each ``emit``, each event of an ``emit_many``)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()

    def emit(self, event: Any, **kwargs: Any) -> Any:
        self.calls["emit"] += 1
        self.attempts[event.idempotency_key] += 1
        return self.inner.emit(event, **kwargs)

    def emit_many(self, events: Any, **kwargs: Any) -> Any:
        self.calls["emit_many"] += 1
        self.attempts.update(event.idempotency_key for event in events)
        return self.inner.emit_many(events, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def counting(rt: Runtime) -> Counting:
    """Put a :class:`Counting` between the runtime's cron loop and its scheduler."""
    loop = cron_of(rt)._loop
    assert loop is not None
    loop.scheduler = wrapper = Counting(loop.scheduler)  # type: ignore[assignment]
    return wrapper
