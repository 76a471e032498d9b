"""The scheduler on the real local PostgreSQL: the same semantics as on SQLite."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest

from stargraph.scheduler import Graph, RunContext, RunPolicy, Scheduler
from stargraph.store import RunStatus, RunStore, open_store

from ._util import fast_settings

pytestmark = pytest.mark.postgres

StoreFactory = Callable[[], Awaitable[RunStore]]


@pytest.fixture
async def pg_stores(postgres_url: str) -> AsyncIterator[StoreFactory]:
    """Open PostgreSQL stores ("nodes") on one fresh database; all closed at the end."""
    pytest.importorskip("stargraph.store.postgres")
    opened: list[RunStore] = []

    async def make() -> RunStore:
        store = open_store(postgres_url)
        await store.open()
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


async def test_enqueue_dedup_and_run_on_postgres(pg_stores: StoreFactory) -> None:
    calls: Counter[str] = Counter()

    async def graph(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        calls[ctx.idempotency_key] += 1
        return params

    store = await pg_stores()
    async with Scheduler(store, [Graph(graph_id="g", fn=graph)], settings=fast_settings()) as s:
        receipts = [s.enqueue("g", {"n": i % 3}, f"k{i % 3}") for i in range(30)]
        with anyio.fail_after(10):
            outcomes = [await r for r in receipts]
            runs = [await s.wait_run(o.run_id) for o in outcomes]
    assert len({o.run_id for o in outcomes}) == 3
    assert sum(not o.deduplicated for o in outcomes) == 3
    assert {r.status for r in runs} == {RunStatus.succeeded}
    assert calls == {"k0": 1, "k1": 1, "k2": 1}


async def test_retry_then_success_on_postgres(pg_stores: StoreFactory) -> None:
    async def flaky(params: dict[str, Any], ctx: RunContext) -> int:
        if ctx.attempt < 2:
            raise ConnectionError("flaky")
        return ctx.attempt

    store = await pg_stores()
    graph = Graph(graph_id="f", fn=flaky, policy=RunPolicy(max_attempts=2, backoff_base=0.05))
    async with Scheduler(store, [graph], settings=fast_settings()) as s:
        with anyio.fail_after(10):
            run = await s.wait_run((await s.submit("f")).run_id)
    assert run.status is RunStatus.succeeded and run.result == 2


async def test_graph_limit_and_remote_cancel_across_nodes(pg_stores: StoreFactory) -> None:
    gate = anyio.Event()
    started: list[str] = []
    ran_on: dict[str, str] = {}
    cancelled: list[str] = []

    def node(store: RunStore, name: str) -> Scheduler:
        async def solo(params: dict[str, Any], ctx: RunContext) -> None:
            started.append(ctx.run_id)
            ran_on[ctx.run_id] = name
            try:
                await gate.wait()
            except anyio.get_cancelled_exc_class():
                cancelled.append(ctx.run_id)
                raise

        graph = Graph(graph_id="solo", fn=solo, policy=RunPolicy(concurrency=1))
        return Scheduler(store, [graph], settings=fast_settings(poll_interval=0.02))

    async with node(await pg_stores(), "a") as a, node(await pg_stores(), "b") as b:
        ids = [(await (a if i % 2 else b).submit("solo")).run_id for i in range(4)]
        with anyio.fail_after(10):
            while not started:
                await anyio.sleep(0.01)
        for _ in range(20):
            a.wake()
            b.wake()
            await anyio.sleep(0.01)
        assert len(started) == 1  # the limit holds across both nodes
        first = started[0]
        other = b if ran_on[first] == "a" else a  # cancel from the node NOT running it
        flagged = await other.cancel(first)
        assert flagged.status is RunStatus.running and flagged.cancel_requested
        with anyio.fail_after(10):
            assert (await other.wait_run(first)).status is RunStatus.cancelled
        gate.set()
        with anyio.fail_after(10):
            rest = [await a.wait_run(i) for i in ids if i != first]
    assert cancelled == [first]
    assert {r.status for r in rest} == {RunStatus.succeeded}
