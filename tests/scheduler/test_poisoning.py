"""Group-commit poisoning (issue 11, defect 6): a value the store cannot hold fails only its own
enqueue. Validation refuses it before it reaches a batch; a request that bypasses validation
(put straight on the intake) is isolated by the writer, so every valid request of the batch
commits. SQLite and PostgreSQL, asyncio and trio."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from stargraph.errors import InvalidParams, InvalidTriggerEvent, StoreError
from stargraph.scheduler import Graph, RunContext, Scheduler
from stargraph.scheduler.receipt import EnqueueReceipt
from stargraph.store import RunStore, open_store
from stargraph.store.base import EnqueueRequest, NewRun, RunFilter
from stargraph.triggers import TriggerEvent

from ._util import fast_settings

# what each store refuses at its bind (SQLite escapes a surrogate inside JSON params, and
# stores NUL; validation refuses both everywhere, so data stays portable between stores)
POISONS = {
    "sqlite": [("key", "\udc80"), ("trigger_id", "\udc80")],
    "postgres": [("key", "\x00"), ("key", "\udc80"), ("params", "\x00"), ("params", "\ud800")],
}


async def _noop(params: dict[str, Any], ctx: RunContext) -> None:
    await anyio.sleep_forever()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[RunStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'stargraph.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    s = open_store(url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def _poisoned(scheduler: Scheduler, field: str, bad: str) -> NewRun:
    now = scheduler.clock.now()
    return NewRun(
        run_id=uuid.uuid4().hex,
        graph_id="g",
        idempotency_key=f"bad-{bad}" if field == "key" else "bad",
        params={"v": bad} if field == "params" else {},
        trigger_id=bad if field == "trigger_id" else None,
        trigger_source="manual",
        scheduled_fire=None,
        enqueued_at=now,
        not_before=now,
        max_attempts=1,
    )


def _backend(store: RunStore) -> str:
    return "sqlite" if type(store).__name__.startswith("SQLite") else "postgres"


async def test_a_poisoned_request_fails_alone_in_its_batch(store: RunStore) -> None:
    graph = Graph(graph_id="g", fn=_noop)
    async with Scheduler(store, [graph], settings=fast_settings(max_concurrent_runs=1)) as s:
        for field, bad in POISONS[_backend(store)]:
            tag = uuid.uuid4().hex[:6]
            receipts = [s.enqueue("g", {"n": n}, f"{tag}-{n}") for n in range(50)]
            poison = EnqueueReceipt(graph_id="g", idempotency_key="bad")
            s._intake.put(EnqueueRequest(run=_poisoned(s, field, bad)), poison)  # bypass checks
            receipts += [s.enqueue("g", {"n": n}, f"{tag}-{n}") for n in range(50, 100)]
            outcomes = [await r for r in receipts]  # every valid one acknowledged
            assert len({o.run_id for o in outcomes}) == 100
            with pytest.raises(InvalidParams, match="store cannot hold") as info:
                await poison
            assert isinstance(info.value.__cause__, StoreError)
    page = await store.list_runs(RunFilter(graph_id="g"), limit=10_000, cursor=None)
    assert len(page.items) == 100 * len(POISONS[_backend(store)])  # durable, none poisoned


async def test_validation_refuses_what_no_store_can_hold(store: RunStore) -> None:
    graph = Graph(graph_id="g", fn=_noop)
    async with Scheduler(store, [graph], settings=fast_settings(max_concurrent_runs=1)) as s:
        for bad in ("\x00", "\udc80", "a\ud800b"):
            with pytest.raises(InvalidParams, match="idempotency_key"):
                s.enqueue("g", {}, f"k{bad}")
            with pytest.raises(InvalidParams, match=r"params of graph 'g'.* has a"):
                s.enqueue("g", {"x": [{"y": bad}]})
            with pytest.raises(InvalidParams, match="params of graph 'g' has a key"):
                s.enqueue("g", {bad: 1})
            with pytest.raises(InvalidParams, match="params"):
                s.enqueue("g", {"x": bad})  # the flat fast path too
            with pytest.raises(InvalidParams, match="trigger_id"):
                s.enqueue("g", {}, trigger_id=f"t{bad}")
            with pytest.raises(InvalidTriggerEvent):
                TriggerEvent(trigger_id="t", scheduled_fire=s.clock.now(), idempotency_key=bad)
            with pytest.raises(InvalidTriggerEvent):
                TriggerEvent(
                    trigger_id="t", scheduled_fire=s.clock.now(), idempotency_key="k",
                    payload={"p": bad},
                )  # fmt: skip
        ok = await s.submit("g", {"text": "naïve ☃ 😀", "n": [1, {"é": "ü"}]}, "ключ-😀")
        assert not ok.deduplicated


async def test_a_store_outage_still_fails_the_whole_batch(store: RunStore) -> None:
    graph = Graph(graph_id="g", fn=_noop)
    async with Scheduler(store, [graph], settings=fast_settings(max_concurrent_runs=1)) as s:
        real = store.enqueue_batch

        async def down(requests: Any) -> Any:
            raise StoreError("database or disk is full")

        store.enqueue_batch = down  # type: ignore[method-assign]
        receipts = [s.enqueue("g", {"n": n}) for n in range(20)]
        for r in receipts:
            with pytest.raises(StoreError, match="disk is full"):
                await r
        store.enqueue_batch = real  # type: ignore[method-assign]
        assert not (await s.submit("g", {})).deduplicated
