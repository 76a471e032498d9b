"""Scheduler enqueue load shared by the SQLite and PostgreSQL enqueue benchmarks.

Both take a store URL, open the store, and measure durable enqueues through a Scheduler whose
single execution slot is held by a blocking run, so only the intake path is timed.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import anyio.lowlevel

from stargraph.scheduler import Graph, RunContext, Scheduler, SchedulerSettings
from stargraph.store import open_store

BATCH = 500
PRODUCERS = 50


async def _block(params: dict[str, Any], ctx: RunContext) -> None:
    await anyio.sleep_forever()


def _scheduler(store: Any, count: int) -> Scheduler:
    settings = SchedulerSettings(max_concurrent_runs=1, intake_capacity=max(count, 10_000),
                                 shutdown_grace=0, poll_interval=1.0)  # fmt: skip
    return Scheduler(store, [Graph(graph_id="noop", fn=_block)], settings=settings)


async def stream(url: str, count: int) -> float:
    """One producer streams *count* enqueues (yielding every BATCH); acked runs per second."""
    store = open_store(url)
    await store.open()
    try:
        async with _scheduler(store, count) as s:
            start = time.perf_counter()
            receipts = []
            for i in range(count):
                receipts.append(s.enqueue("noop", {"i": i}))
                if i % BATCH == BATCH - 1:
                    await anyio.lowlevel.checkpoint()
            for receipt in receipts:
                await receipt
            elapsed = time.perf_counter() - start
    finally:
        await store.close()
    return count / elapsed


async def acked(url: str, count: int) -> float:
    """PRODUCERS tasks each await their own receipt before the next enqueue; acked runs/s."""
    store = open_store(url)
    await store.open()
    per = count // PRODUCERS
    try:
        async with _scheduler(store, count) as s:

            async def producer(p: int) -> None:
                for i in range(per):
                    await s.enqueue("noop", {"p": p, "i": i})

            start = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for p in range(PRODUCERS):
                    tg.start_soon(producer, p)
            elapsed = time.perf_counter() - start
    finally:
        await store.close()
    return per * PRODUCERS / elapsed
