"""Runs a hosted plugin enqueues through ``deps["scheduler"]`` are recorded as ``plugin``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
import pluggy
from _settings import settings

from stargraph.hosting import HostOptions
from stargraph.plugin import TriggerAdapter, hookspecs
from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, RunContext
from stargraph.store import RunFilter
from stargraph.triggers import TriggerEvent
from stargraph.triggers.manual import ManualTrigger

FAST = settings(lease_seconds=30.0, heartbeat_interval=None)
HOST = HostOptions(start_timeout=2, stop_timeout=2, max_restarts=0)


async def echo(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"source": ctx.trigger_source, "trigger_id": ctx.trigger_id}


class SeedTrigger:
    """Calls ``enqueue`` exactly as the seed how-to shows, and ``emit`` with an event."""

    def init(self, deps: dict[str, Any]) -> None:
        self.scheduler = deps["scheduler"]

    def start(self) -> None:
        self.scheduler.enqueue(graph_id="echo", params={"n": 1}, idempotency_key="seed-1")
        event = TriggerEvent(
            trigger_id="seed-events",
            scheduled_fire=datetime.now(UTC),
            idempotency_key="seed-2",
            payload={"n": 2},
        )
        self.scheduler.emit(event, graph_id="echo")

    def stop(self) -> None: ...

    def routes(self) -> list[Any]:
        return []


async def test_plugin_runs_are_plugin_and_manual_trigger_runs_stay_manual(
    sqlite_url: str,
) -> None:
    pm = pluggy.PluginManager("stargraph")
    pm.add_hookspecs(hookspecs)
    pm.register(TriggerAdapter(SeedTrigger()), name="acme-seed")
    manual = ManualTrigger()
    pm.register(TriggerAdapter(manual), name="manual")
    rt = Runtime(
        sqlite_url,
        graphs=[Graph(graph_id="echo", fn=echo)],
        settings=FAST,
        plugin_manager=pm,
        host_options=HOST,
    )
    async with rt:
        with anyio.fail_after(10):
            by_hand = await manual.enqueue("echo", {"n": 3}, "manual-1")
            api = await rt.scheduler.submit("echo", {"n": 4}, "api-1")
            while True:
                page = await rt.store.list_runs(RunFilter(), limit=10, cursor=None)
                if len(page.items) == 4 and all(r.finished for r in page.items):
                    break
                await anyio.sleep(0.02)
    runs = {r.idempotency_key: r for r in page.items}
    assert {k: (r.trigger_source, r.trigger_id) for k, r in runs.items()} == {
        "seed-1": ("plugin", "acme-seed"),
        "seed-2": ("plugin", "seed-events"),
        "manual-1": ("manual", "manual"),
        "api-1": ("manual", None),
    }
    assert runs["seed-1"].result == {"source": "plugin", "trigger_id": "acme-seed"}
    assert runs["manual-1"].run_id == by_hand.run_id
    assert runs["api-1"].run_id == api.run_id
