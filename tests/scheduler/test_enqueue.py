"""Enqueue: receipts after commit, dedup, validation, bounded intake, closed scheduler."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from stargraph.errors import InvalidParams, SchedulerBusy, SchedulerClosed, StoreError, UnknownGraph
from stargraph.scheduler import Enqueued, EnqueueReceipt, Graph, RunContext, Scheduler
from stargraph.store import CursorAdvance, RunFilter, RunStatus, RunStore

from ._util import fast_settings


class Counter:
    """A graph callable that counts its calls per idempotency key."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    async def __call__(self, params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        self.calls[ctx.idempotency_key] = self.calls.get(ctx.idempotency_key, 0) + 1
        return {"echo": params}


def _db_keys(store: RunStore) -> list[tuple[str, str]]:
    path = store.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return sorted(conn.execute("SELECT graph_id, idempotency_key FROM runs").fetchall())


async def test_submit_runs_graph_and_receipt_resolves_after_commit(store: RunStore) -> None:
    fn = Counter()
    async with Scheduler(store, [Graph(graph_id="g", fn=fn)], settings=fast_settings()) as s:
        receipt = s.enqueue("g", {"a": 1}, "key-1")
        assert receipt.idempotency_key == "key-1"
        assert not receipt.done()
        with anyio.fail_after(5):
            first = await receipt
        # Durable: a separate connection already sees the row once the receipt resolved.
        assert ("g", "key-1") in _db_keys(store)
        assert await receipt == first  # awaitable again, same outcome
        assert isinstance(first, Enqueued) and not first.deduplicated
        with anyio.fail_after(5):
            run = await s.wait_run(first.run_id)
    assert run.status is RunStatus.succeeded
    assert run.result == {"echo": {"a": 1}}
    assert run.trigger_source == "manual" and run.attempt == 1
    assert fn.calls == {"key-1": 1}


async def test_concurrent_duplicate_enqueues_make_one_run(store: RunStore) -> None:
    fn = Counter()
    receipts = []
    async with Scheduler(store, [Graph(graph_id="g", fn=fn)], settings=fast_settings()) as s:

        async def producer() -> None:
            for _ in range(5):
                receipts.append(s.enqueue("g", {"n": 1}, "same"))
                await anyio.sleep(0)

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(producer)
        with anyio.fail_after(5):
            outcomes = [await r for r in receipts]
            await s.wait_run(outcomes[0].run_id)
        later = await s.submit("g", {"n": 2}, "same")  # a later batch, after commit
    assert len(outcomes) == 100
    assert {o.run_id for o in outcomes} == {later.run_id}
    assert sum(not o.deduplicated for o in outcomes) == 1
    assert later.deduplicated
    assert fn.calls == {"same": 1}
    assert _db_keys(store) == [("g", "same")]


async def test_same_key_on_two_graphs_makes_two_runs(store: RunStore) -> None:
    graphs = [Graph(graph_id="a", fn=Counter()), Graph(graph_id="b", fn=Counter())]
    async with Scheduler(store, graphs, settings=fast_settings()) as s:
        with anyio.fail_after(5):
            ra, rb = await s.submit("a", None, "k"), await s.submit("b", None, "k")
    assert ra.run_id != rb.run_id
    assert not ra.deduplicated and not rb.deduplicated
    assert _db_keys(store) == [("a", "k"), ("b", "k")]


async def test_minted_keys_and_run_ids_are_random(store: RunStore) -> None:
    async with Scheduler(store, [Graph(graph_id="g", fn=Counter())], settings=fast_settings()) as s:
        receipts = [s.enqueue("g") for _ in range(200)]  # same instant, same graph
        with anyio.fail_after(5):
            outcomes = [await r for r in receipts]
    assert len({r.idempotency_key for r in receipts}) == 200
    assert len({o.run_id for o in outcomes}) == 200
    assert not any(o.deduplicated for o in outcomes)


async def test_unknown_graph_and_bad_params_fail_at_once(store: RunStore) -> None:
    async with Scheduler(store, [Graph(graph_id="g", fn=Counter())], settings=fast_settings()) as s:
        with pytest.raises(UnknownGraph, match=r"'nope'.*registered graphs: g"):
            s.enqueue("nope")
        with pytest.raises(InvalidParams, match="not JSON-serialisable"):
            s.enqueue("g", {"when": datetime.now(UTC)})
        with pytest.raises(InvalidParams, match="not JSON-serialisable"):
            s.enqueue("g", {"x": float("nan")})
        with pytest.raises(InvalidParams, match="must be a JSON object"):
            s.enqueue("g", [1, 2])  # type: ignore[arg-type]
        with pytest.raises(InvalidParams, match="idempotency_key"):
            s.enqueue("g", {}, "")
        with pytest.raises(InvalidParams, match="scheduled_fire"):
            s.enqueue("g", {}, "k", scheduled_fire=datetime(2026, 1, 1))
        assert s.intake_depth() == 0
    assert _db_keys(store) == []


async def test_params_are_snapshotted_at_enqueue(store: RunStore) -> None:
    async with Scheduler(store, [Graph(graph_id="g", fn=Counter())], settings=fast_settings()) as s:
        params: dict[str, Any] = {"items": [1]}
        flat: dict[str, Any] = {"a": 1, "b": "x", "c": None, "d": 1.5, "e": True}
        receipt, flat_receipt = s.enqueue("g", params), s.enqueue("g", flat)
        params["items"].append(2)
        flat["a"] = 2
        with anyio.fail_after(5):
            run = await s.wait_run((await receipt).run_id)
            flat_run = await s.wait_run((await flat_receipt).run_id)
    assert run.params == {"items": [1]}
    assert flat_run.params == {"a": 1, "b": "x", "c": None, "d": 1.5, "e": True}


async def test_full_intake_raises_scheduler_busy(store: RunStore) -> None:
    settings = fast_settings(intake_capacity=3)
    async with Scheduler(store, [Graph(graph_id="g", fn=Counter())], settings=settings) as s:
        accepted: list[EnqueueReceipt] = []
        with pytest.raises(SchedulerBusy, match="3 requests waiting") as info:
            accepted.extend(s.enqueue("g") for _ in range(10))  # no await: no draining
        # 3 buffered, plus at most one handed straight to the waiting writer
        assert 3 <= len(accepted) <= 4
        assert info.value.retry_after > 0
        with anyio.fail_after(5):
            outcomes = [await r for r in accepted]
        assert not any(o.deduplicated for o in outcomes)
        with anyio.fail_after(5):
            await s.submit("g")  # room again after the commit


async def test_enqueue_outside_running_scheduler_is_refused(store: RunStore) -> None:
    s = Scheduler(store, [Graph(graph_id="g", fn=Counter())], settings=fast_settings())
    with pytest.raises(SchedulerClosed, match="new"):
        s.enqueue("g")
    async with s:
        pass
    with pytest.raises(SchedulerClosed, match="stopped"):
        s.enqueue("g")


async def test_cursor_commits_with_the_insert(store: RunStore) -> None:
    fire = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    async with Scheduler(store, [Graph(graph_id="g", fn=Counter())], settings=fast_settings()) as s:
        with anyio.fail_after(5):
            out = await s.submit(
                "g",
                {},
                f"cron:x:{fire.isoformat()}",
                trigger_id="cron:x",
                trigger_source="cron",
                scheduled_fire=fire,
                cursor=CursorAdvance(trigger_id="cron:x", cursor=fire),
            )
            run = await s.wait_run(out.run_id)
    state = await store.get_trigger_state("cron:x")
    assert state is not None and state.cursor == fire
    assert run.scheduled_fire == fire and run.trigger_id == "cron:x"
    assert run.trigger_source == "cron"
    page = await store.list_runs(RunFilter(trigger_id="cron:x"), limit=10, cursor=None)
    assert [r.run_id for r in page.items] == [out.run_id]


async def test_store_failure_fails_the_receipt(store: RunStore) -> None:
    async with Scheduler(
        store, [Graph(graph_id="g", fn=Counter())], settings=fast_settings(shutdown_grace=0.1)
    ) as s:
        await store.close()  # the database is gone under the running scheduler
        receipt = s.enqueue("g")
        with anyio.fail_after(5), pytest.raises(StoreError):
            await receipt


async def test_enqueue_from_plain_asyncio_task(store: RunStore, anyio_backend: str) -> None:
    if anyio_backend != "asyncio":
        pytest.skip("asyncio.create_task exists only on the asyncio backend (the seed's form)")
    async with Scheduler(store, [Graph(graph_id="g", fn=Counter())], settings=fast_settings()) as s:

        async def seed_style() -> Enqueued:
            receipt = s.enqueue(graph_id="g", params={"p": 1}, idempotency_key="seed")
            return await receipt

        task = asyncio.create_task(seed_style())
        with anyio.fail_after(5):
            out = await task
            run = await s.wait_run(out.run_id)
    assert run.status is RunStatus.succeeded
