"""Concurrency limits: global per node, per graph across every node sharing the store."""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio

from stargraph.scheduler import Graph, RunContext, RunPolicy, Scheduler
from stargraph.store import RunStatus, RunStore

from ._util import fast_settings


class Gauge:
    """Counts graph callables running at once, overall and per graph; records the peaks."""

    def __init__(self) -> None:
        self.now: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.total_now = 0
        self.total_peak = 0
        self.done = 0

    def graph(self, hold: float) -> Any:
        async def fn(params: dict[str, Any], ctx: RunContext) -> None:
            self.now[ctx.graph_id] += 1
            self.total_now += 1
            self.peak[ctx.graph_id] = max(self.peak[ctx.graph_id], self.now[ctx.graph_id])
            self.total_peak = max(self.total_peak, self.total_now)
            try:
                await anyio.sleep(hold)
            finally:
                self.now[ctx.graph_id] -= 1
                self.total_now -= 1
                self.done += 1

        return fn


async def _all_finished(s: Scheduler, run_ids: list[str]) -> None:
    for run_id in run_ids:
        run = await s.wait_run(run_id)
        assert run.status is RunStatus.succeeded


async def test_per_graph_and_global_limits_are_never_exceeded(store: RunStore) -> None:
    gauge = Gauge()
    graphs = [
        Graph(graph_id="one", fn=gauge.graph(0.02), policy=RunPolicy(concurrency=1)),
        Graph(graph_id="two", fn=gauge.graph(0.02), policy=RunPolicy(concurrency=2)),
        Graph(graph_id="free", fn=gauge.graph(0.02)),
    ]
    async with Scheduler(store, graphs, settings=fast_settings(max_concurrent_runs=4)) as s:
        receipts = [s.enqueue(g) for _ in range(12) for g in ("one", "two", "free")]
        with anyio.fail_after(20):
            ids = [(await r).run_id for r in receipts]
            await _all_finished(s, ids)
    assert gauge.done == 36
    assert gauge.peak["one"] == 1
    assert gauge.peak["two"] == 2
    assert gauge.total_peak == 4  # the global cap is reached, never exceeded


async def test_graph_limit_holds_across_two_nodes(sqlite_url: str) -> None:
    from stargraph.store import open_store

    gate = anyio.Event()
    ran_on: Counter[str] = Counter()
    state = {"now": 0, "peak": 0}
    stores = [open_store(sqlite_url), open_store(sqlite_url)]
    for st in stores:
        await st.open()

    def node(st: Any, name: str) -> Scheduler:
        async def fn(params: dict[str, Any], ctx: RunContext) -> None:
            ran_on[name] += 1
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            await gate.wait()
            state["now"] -= 1

        graph = Graph(graph_id="solo", fn=fn, policy=RunPolicy(concurrency=1))
        return Scheduler(st, [graph], settings=fast_settings(poll_interval=0.01))

    try:
        async with node(stores[0], "a") as a, node(stores[1], "b") as b:
            receipts = [(a if i % 2 else b).enqueue("solo") for i in range(6)]
            with anyio.fail_after(10):
                ids = [(await r).run_id for r in receipts]
                while not ran_on:
                    await anyio.sleep(0.01)
            for _ in range(20):  # both nodes have free slots and due runs: they keep trying
                a.wake()
                b.wake()
                await anyio.sleep(0.01)
            assert sum(ran_on.values()) == 1
            gate.set()
            with anyio.fail_after(10):
                await _all_finished(a, ids)
    finally:
        for st in stores:
            await st.close()
    assert sum(ran_on.values()) == 6
    assert state["peak"] == 1


async def test_global_cap_with_sync_graphs(store: RunStore) -> None:
    import threading
    import time

    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def work(params: dict[str, Any], ctx: RunContext) -> None:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.02)
        with lock:
            state["now"] -= 1

    async with Scheduler(
        store, [Graph(graph_id="w", fn=work)], settings=fast_settings(max_concurrent_runs=3)
    ) as s:
        receipts = [s.enqueue("w") for _ in range(15)]
        with anyio.fail_after(20):
            ids = [(await r).run_id for r in receipts]
            await _all_finished(s, ids)
    assert state["peak"] == 3
