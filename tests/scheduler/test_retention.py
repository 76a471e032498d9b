"""Retention: finished runs older than the window are pruned, and their keys become free."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import pytest

from stargraph.errors import RunNotFound
from stargraph.scheduler import Graph, RunContext, Scheduler
from stargraph.store import RunStatus, RunStore

from ._util import ManualClock, fast_settings


async def _noop(params: dict[str, Any], ctx: RunContext) -> str:
    return ctx.run_id


async def test_prune_removes_old_finished_runs_only(store: RunStore) -> None:
    clock = ManualClock()
    settings = fast_settings(retention_days=7)
    async with Scheduler(
        store, [Graph(graph_id="g", fn=_noop)], settings=settings, clock=clock
    ) as s:
        with anyio.fail_after(5):
            old = await s.submit("g", {}, "daily-report")
            old_run = await s.wait_run(old.run_id)
        assert old_run.finished_at == clock.now()  # store times come from the injected clock
        clock.advance(timedelta(days=6))
        assert await s.prune() == 0  # inside the window: kept, and the key still dedups
        assert (await s.submit("g", {}, "daily-report")).deduplicated
        clock.advance(timedelta(days=2))
        with anyio.fail_after(5):
            fresh = await s.submit("g", {}, "other")
            await s.wait_run(fresh.run_id)
        assert await s.prune() == 1
        with pytest.raises(RunNotFound):
            await s.get_run(old.run_id)
        assert (await s.get_run(fresh.run_id)).status is RunStatus.succeeded
        again = await s.submit("g", {}, "daily-report")  # the key is free again
        assert not again.deduplicated and again.run_id != old.run_id


async def test_prune_loop_runs_at_start(store: RunStore) -> None:
    clock = ManualClock()
    async with Scheduler(
        store, [Graph(graph_id="g", fn=_noop)], settings=fast_settings(), clock=clock
    ) as s:
        with anyio.fail_after(5):
            out = await s.submit("g")
            await s.wait_run(out.run_id)
    clock.advance(timedelta(days=8))
    async with Scheduler(
        store, [Graph(graph_id="g", fn=_noop)], settings=fast_settings(), clock=clock
    ):
        with anyio.fail_after(5):
            while await store.get_run(out.run_id) is not None:
                await anyio.sleep(0.02)
