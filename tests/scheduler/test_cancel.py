"""Cancel: pending, running here, running on another node, finished, unknown."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from stargraph.errors import RunNotFound
from stargraph.scheduler import Graph, RunContext, RunPolicy, Scheduler
from stargraph.store import RunStatus, RunStore, open_store

from ._util import fast_settings


class Blocker:
    """An async graph that blocks until released, recording starts and cancellations."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.release: anyio.Event | None = None

    async def __call__(self, params: dict[str, Any], ctx: RunContext) -> str:
        if self.release is None:
            self.release = anyio.Event()
        self.started.append(ctx.run_id)
        try:
            await self.release.wait()
        except anyio.get_cancelled_exc_class():
            self.cancelled.append(ctx.run_id)
            raise
        return "released"

    async def wait_started(self, count: int = 1) -> None:
        with anyio.fail_after(5):
            while len(self.started) < count:
                await anyio.sleep(0.01)


async def test_cancel_pending_run(store: RunStore) -> None:
    blocker = Blocker()
    graph = Graph(graph_id="b", fn=blocker, policy=RunPolicy(concurrency=1))
    async with Scheduler(store, [graph], settings=fast_settings()) as s:
        first = await s.submit("b")
        await blocker.wait_started()
        second = await s.submit("b")  # pending behind the concurrency limit
        cancelled = await s.cancel(second.run_id)
        assert cancelled.status is RunStatus.cancelled
        assert blocker.release is not None
        blocker.release.set()
        with anyio.fail_after(5):
            done = await s.wait_run(first.run_id)
        await anyio.sleep(0.2)  # the dispatcher had every chance to (wrongly) start it
    assert done.status is RunStatus.succeeded
    assert blocker.started == [first.run_id]
    assert (await s.get_run(second.run_id)).status is RunStatus.cancelled


async def test_cancel_running_async_run(store: RunStore) -> None:
    blocker = Blocker()
    async with Scheduler(store, [Graph(graph_id="b", fn=blocker)], settings=fast_settings()) as s:
        out = await s.submit("b")
        await blocker.wait_started()
        with anyio.fail_after(5):
            run = await s.cancel(out.run_id)
    assert run.status is RunStatus.cancelled and run.finished_at is not None
    assert blocker.cancelled == [out.run_id]


async def test_cancel_running_sync_run(store: RunStore) -> None:
    started, release = threading.Event(), threading.Event()

    def work(params: dict[str, Any], ctx: RunContext) -> None:
        started.set()
        release.wait(30)

    try:
        async with Scheduler(store, [Graph(graph_id="w", fn=work)], settings=fast_settings()) as s:
            out = await s.submit("w")
            with anyio.fail_after(5):
                while not started.is_set():
                    await anyio.sleep(0.01)
                run = await s.cancel(out.run_id)
    finally:
        release.set()
    assert run.status is RunStatus.cancelled


async def test_cancel_finished_run_returns_it_unchanged(store: RunStore) -> None:
    async def quick(params: dict[str, Any], ctx: RunContext) -> int:
        return 7

    async with Scheduler(store, [Graph(graph_id="q", fn=quick)], settings=fast_settings()) as s:
        with anyio.fail_after(5):
            done = await s.wait_run((await s.submit("q")).run_id)
        again = await s.cancel(done.run_id)
        with pytest.raises(RunNotFound, match="'missing'"):
            await s.cancel("missing")
        with pytest.raises(RunNotFound):
            await s.get_run("missing")
    assert again.status is RunStatus.succeeded and again.result == 7
    assert again.finished_at == done.finished_at


async def test_cancel_reaches_a_run_on_another_node(sqlite_url: str) -> None:
    blocker = Blocker()
    store_a, store_b = open_store(sqlite_url), open_store(sqlite_url)
    await store_a.open()
    await store_b.open()
    try:
        node_a = Scheduler(store_a, [Graph(graph_id="b", fn=blocker)], settings=fast_settings())
        node_b = Scheduler(store_b, [], settings=fast_settings())  # cannot run "b" itself
        async with node_a, node_b:
            out = await node_a.submit("b")
            await blocker.wait_started()
            flagged = await node_b.cancel(out.run_id)
            assert flagged.status is RunStatus.running and flagged.cancel_requested
            with anyio.fail_after(5):
                run = await node_b.wait_run(out.run_id)  # node A's heartbeat applies it
    finally:
        await store_a.close()
        await store_b.close()
    assert run.status is RunStatus.cancelled
    assert blocker.cancelled == [out.run_id]
