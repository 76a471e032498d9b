"""Child process for the lease-rescue test: starts one blocking run and waits to be killed.

Usage: ``python lease_child.py STORE_URL BACKEND``. Prints ``STARTED <run_id>`` once the run
holds its lease, then blocks until SIGKILL.
"""

from __future__ import annotations

import sys
from typing import Any

import anyio

from stargraph.scheduler import Graph, RunContext, RunPolicy, Scheduler, SchedulerSettings
from stargraph.store import open_store


async def block(params: dict[str, Any], ctx: RunContext) -> None:
    print(f"STARTED {ctx.run_id} {ctx.attempt}", flush=True)
    await anyio.sleep_forever()


async def main(url: str) -> None:
    store = open_store(url)
    await store.open()
    graph = Graph(graph_id="block", fn=block, policy=RunPolicy(max_attempts=2))
    settings = SchedulerSettings(lease_seconds=1.0, poll_interval=0.05)
    async with Scheduler(store, [graph], settings=settings) as scheduler:
        await scheduler.submit("block", {}, "rescue-me")
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], backend=sys.argv[2])
