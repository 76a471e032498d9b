"""Child process for the SIGKILL crash test: enqueue keyed runs forever, print each ack.

Usage: ``python crash_child.py STORE_URL BACKEND [MAX_ATTEMPTS]`` (default 5). Each committed
enqueue prints ``ACK <key> <run_id> <new|dup>`` (flushed) only after ``await receipt``
returned, i.e. after COMMIT. It also executes runs, so some hold leases when the parent kills it.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import anyio

from stargraph.scheduler import Graph, RunContext, RunPolicy, Scheduler, SchedulerSettings
from stargraph.store import open_store

PRODUCERS = 8


async def work(params: dict[str, Any], ctx: RunContext) -> str:
    await anyio.sleep(random.random() * 0.005)
    return ctx.idempotency_key


def graph(max_attempts: int = 5) -> Graph:
    policy = RunPolicy(max_attempts=max_attempts, backoff_base=0.01)
    return Graph(graph_id="work", fn=work, policy=policy)


async def produce(scheduler: Scheduler, counter: list[int]) -> None:
    while True:
        i = counter[0]
        counter[0] += 1
        key = f"key-{i - 5 if i % 10 == 9 else i}"  # every tenth enqueue repeats a key
        receipt = scheduler.enqueue("work", {"i": i}, key)
        out = await receipt
        print(f"ACK {key} {out.run_id} {'dup' if out.deduplicated else 'new'}", flush=True)


async def main(url: str, max_attempts: int) -> None:
    store = open_store(url)
    await store.open()
    settings = SchedulerSettings(lease_seconds=1.0, poll_interval=0.02, max_concurrent_runs=8)
    async with Scheduler(store, [graph(max_attempts)], settings=settings) as scheduler:
        counter = [0]
        async with anyio.create_task_group() as tg:
            for _ in range(PRODUCERS):
                tg.start_soon(produce, scheduler, counter)


if __name__ == "__main__":
    attempts = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    anyio.run(main, sys.argv[1], attempts, backend=sys.argv[2])
