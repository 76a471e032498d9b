"""Per-graph concurrency holds across nodes while they race to claim (store level)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import psycopg
import pytest

from stargraph.store import Completion, RunStatus
from stargraph.store.postgres import PostgresStore

from ._helpers import new_run, req

pytestmark = pytest.mark.postgres

LIMIT = 2
RUNS = 60


async def _node(store: PostgresStore, name: str, seed: int, done: list[str]) -> None:
    rng = random.Random(seed)
    while len(done) < 2 * RUNS:
        runs = await store.claim(
            owner=name, limit=3, now=datetime.now(UTC), lease_seconds=30,
            graph_limits={"limited": LIMIT},
        )  # fmt: skip
        if not runs:
            await anyio.sleep(rng.uniform(0, 0.003))
            continue
        await anyio.sleep(rng.uniform(0, 0.01))  # "run" them
        ok = [Completion(run_id=r.run_id, status=RunStatus.succeeded) for r in runs]
        recorded = await store.complete_many(owner=name, completions=ok, now=datetime.now(UTC))
        done.extend(recorded)


async def test_graph_limit_is_never_exceeded_by_racing_nodes(
    node_factory: Callable[..., Any], postgres_url: str
) -> None:
    nodes: list[PostgresStore] = [await node_factory() for _ in range(3)]
    await nodes[0].enqueue_batch(
        [req(new_run(f"l{i}", graph="limited")) for i in range(RUNS)]
        + [req(new_run(f"f{i}", graph="free")) for i in range(RUNS)]
    )
    samples: list[tuple[int, int]] = []
    done: list[str] = []
    sampler: psycopg.Connection[Any] = await anyio.to_thread.run_sync(
        lambda: psycopg.connect(postgres_url)
    )

    def sample() -> tuple[int, int]:
        row = sampler.execute(
            "SELECT count(*) FILTER (WHERE graph_id = 'limited'), "
            "count(*) FILTER (WHERE graph_id = 'free') FROM runs WHERE status = 'running'"
        ).fetchone()
        sampler.commit()
        assert row is not None
        return int(row[0]), int(row[1])

    async def watch() -> None:
        while len(done) < 2 * RUNS:
            samples.append(await anyio.to_thread.run_sync(sample))

    try:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                for i, store in enumerate(nodes):
                    tg.start_soon(_node, store, f"node-{i}", i, done)
    finally:
        await anyio.to_thread.run_sync(sampler.close)
    assert sorted(done) == sorted([f"l{i}" for i in range(RUNS)] + [f"f{i}" for i in range(RUNS)])
    assert len(samples) > 20
    assert max(s[0] for s in samples) <= LIMIT, samples
    assert max(s[0] for s in samples) == LIMIT  # the limit was actually reached
    assert max(s[1] for s in samples) > LIMIT  # unlimited graphs are not held back


async def test_overlapping_batches_from_racing_nodes_agree_on_every_key(
    node_factory: Callable[..., Any],
) -> None:
    nodes: list[PostgresStore] = [await node_factory() for _ in range(3)]
    holders: dict[str, set[str]] = {}
    fresh: dict[str, int] = {}

    async def enqueue(store: PostgresStore, seed: int) -> None:
        rng = random.Random(seed)
        for b in range(10):
            keys = rng.sample(range(100), 40)  # overlapping keys, each batch in its own order
            batch = [req(new_run(f"n{seed}-b{b}-k{k}", key=f"k{k}")) for k in keys]
            for request, outcome in zip(batch, await store.enqueue_batch(batch), strict=True):
                key = request.run.idempotency_key
                holders.setdefault(key, set()).add(outcome.run_id)
                fresh[key] = fresh.get(key, 0) + (not outcome.deduplicated)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for seed, store in enumerate(nodes):
                tg.start_soon(enqueue, store, seed)
    assert all(len(ids) == 1 for ids in holders.values())  # one run per key, seen by all
    assert all(count == 1 for count in fresh.values())  # created exactly once
    counts = await nodes[0].count_by_status()
    assert counts[RunStatus.pending] == len(holders)
