"""A delayed run (``not_before``) is durable: it survives a restart and starts after its time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, RunContext
from stargraph.store import RunStatus

DELAY = timedelta(seconds=1.5)


async def test_delayed_run_survives_restart_and_starts_after_not_before(sqlite_url: str) -> None:
    started: list[datetime] = []

    async def work(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        started.append(datetime.now(UTC))
        return {"ok": True}

    graphs = [Graph(graph_id="later", fn=work)]
    not_before = datetime.now(UTC) + DELAY
    async with Runtime(sqlite_url, graphs=graphs, graph_entry_points=False) as first:
        receipt = await first.scheduler.submit("later", {}, "delayed-1", not_before=not_before)
        run = await first.store.get_run(receipt.run_id)
        assert run is not None and run.status is RunStatus.pending
        assert run.not_before == not_before
    assert started == [], "the first runtime started the run before not_before"
    assert datetime.now(UTC) < not_before, "the first runtime took too long to stop"

    async with Runtime(sqlite_url, graphs=graphs, graph_entry_points=False) as second:
        with anyio.fail_after(30):
            done = await second.scheduler.wait_run(receipt.run_id)
    assert done.status is RunStatus.succeeded and done.result == {"ok": True}
    assert len(started) == 1
    assert done.started_at is not None and done.started_at >= not_before
    assert started[0] >= not_before
