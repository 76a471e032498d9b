"""The RunStore contract, part 1: lifecycle, enqueue and dedup, cursors, claims, leases.

Run against every store (SQLite, and PostgreSQL when available); part 2 is
``test_contract_queries.py``. Written against :class:`stargraph.store.RunStore` only: no
store internals.
"""

from __future__ import annotations

import anyio
import pytest

from stargraph.errors import StoreError
from stargraph.store import (
    Completion,
    RunError,
    RunStatus,
    RunStore,
    attempt_history,
)

from ._helpers import LEASE, T0, at, claim, enqueue, new_run, ok, req

# -- lifecycle --------------------------------------------------------------------------------


async def test_open_and_close_are_idempotent(store_url: str) -> None:
    from stargraph.store import open_store

    store = open_store(store_url)
    assert isinstance(store, RunStore)
    assert store.url == store_url
    await store.open()
    await store.open()
    await store.ping()
    await store.close()
    await store.close()
    with pytest.raises(StoreError):
        await store.ping()


async def test_wait_for_work_returns_within_timeout(store: RunStore) -> None:
    with anyio.fail_after(5):
        await store.wait_for_work(0.05)


# -- enqueue and dedup --------------------------------------------------------------------------


async def test_enqueued_run_round_trips_every_field(store: RunStore) -> None:
    run = new_run(
        "r1",
        params={"a": [1, 2.5, "x", None, True], "nested": {"k": "v"}},
        trigger_id="cron-1",
        trigger_source="cron",
        scheduled_fire=at(-60),
        due=5,
        max_attempts=3,
    )
    assert await enqueue(store, run) == ["r1"]
    got = await store.get_run("r1")
    assert got is not None
    assert (got.run_id, got.graph_id, got.idempotency_key) == ("r1", "g", "key-r1")
    assert got.status is RunStatus.pending and not got.finished
    assert got.params == run.params
    assert (got.trigger_id, got.trigger_source) == ("cron-1", "cron")
    assert got.scheduled_fire == at(-60) and got.scheduled_fire.tzinfo is not None
    assert got.enqueued_at == T0 and got.not_before == at(5)  # exact to the microsecond
    assert (got.attempt, got.max_attempts) == (1, 3)
    assert got.started_at is None and got.finished_at is None
    assert got.lease_owner is None and got.lease_expires_at is None
    assert got.result is None and got.error is None and not got.cancel_requested
    assert await store.get_run("nope") is None


async def test_duplicate_key_returns_existing_run(store: RunStore) -> None:
    await enqueue(store, new_run("r1", key="k"))
    outcomes = await store.enqueue_batch([req(new_run("r2", key="k")), req(new_run("r3"))])
    assert [(o.run_id, o.deduplicated) for o in outcomes] == [("r1", True), ("r3", False)]
    assert await store.get_run("r2") is None


async def test_duplicates_inside_one_batch(store: RunStore) -> None:
    batch = [new_run("a1", key="k"), new_run("b1", key="j"), new_run("a2", key="k")]
    batch.append(new_run("a3", key="k"))
    outcomes = await store.enqueue_batch([req(r) for r in batch])
    assert [(o.run_id, o.deduplicated) for o in outcomes] == [
        ("a1", False),
        ("b1", False),
        ("a1", True),
        ("a1", True),
    ]
    counts = await store.count_by_status()
    assert counts[RunStatus.pending] == 2


async def test_a_large_batch_keeps_order_duplicates_and_cursors(store: RunStore) -> None:
    """300 requests (more than one multi-row statement): duplicates across statements, a key
    held before the batch, and two cursors moving back and forth inside the batch."""
    await enqueue(store, new_run("old", key="k-7"))
    requests = [
        req(new_run(f"r{i}", key=f"k-{i % 290}"), ("odd", at(i)) if i % 2 else ("even", at(-i)))
        for i in range(300)
    ]
    outcomes = await store.enqueue_batch(requests)
    holders = ["old" if i % 290 == 7 else f"r{i % 290}" for i in range(300)]
    assert [o.run_id for o in outcomes] == holders
    assert [o.deduplicated for o in outcomes] == [i == 7 or i >= 290 for i in range(300)]
    assert (await store.count_by_status())[RunStatus.pending] == 290
    assert await store.get_run("r295") is None
    odd, even = await store.get_trigger_state("odd"), await store.get_trigger_state("even")
    assert odd is not None and odd.cursor == at(299)
    assert even is not None and even.cursor == at(0)


async def test_same_key_on_two_graphs_makes_two_runs(store: RunStore) -> None:
    outcomes = await store.enqueue_batch(
        [req(new_run("r1", graph="g1", key="k")), req(new_run("r2", graph="g2", key="k"))]
    )
    assert [(o.run_id, o.deduplicated) for o in outcomes] == [("r1", False), ("r2", False)]


async def test_finished_run_still_holds_its_key(store: RunStore) -> None:
    await enqueue(store, new_run("r1", key="k"))
    await claim(store)
    assert await store.complete_many(owner="node-a", completions=[ok("r1")], now=at(1)) == {"r1"}
    [outcome] = await store.enqueue_batch([req(new_run("r2", key="k"))])
    assert (outcome.run_id, outcome.deduplicated) == ("r1", True)


async def test_empty_batch(store: RunStore) -> None:
    assert await store.enqueue_batch([]) == []


# -- trigger cursor with enqueue ----------------------------------------------------------------


async def test_cursor_advances_with_insert_and_with_duplicate(store: RunStore) -> None:
    await store.enqueue_batch([req(new_run("r1", key="fire-1"), ("cron-1", at(60)))])
    state = await store.get_trigger_state("cron-1")
    assert state is not None and state.cursor == at(60) and not state.paused
    [outcome] = await store.enqueue_batch([req(new_run("r2", key="fire-1"), ("cron-1", at(120)))])
    assert outcome.deduplicated
    state = await store.get_trigger_state("cron-1")
    assert state is not None and state.cursor == at(120)


async def test_cursor_never_moves_back(store: RunStore) -> None:
    await store.enqueue_batch(
        [req(new_run("r1"), ("cron-1", at(120))), req(new_run("r2"), ("cron-1", at(60)))]
    )
    state = await store.get_trigger_state("cron-1")
    assert state is not None and state.cursor == at(120)
    await store.enqueue_batch([req(new_run("r3"), ("cron-1", at(90)))])
    await store.set_trigger_cursor("cron-1", at(30), now=at(1))
    state = await store.get_trigger_state("cron-1")
    assert state is not None and state.cursor == at(120)
    await store.set_trigger_cursor("cron-1", at(180), now=at(2))
    state = await store.get_trigger_state("cron-1")
    assert state is not None and state.cursor == at(180)


async def test_failed_batch_neither_inserts_nor_advances(store: RunStore) -> None:
    await enqueue(store, new_run("r1", key="k1"))
    clash = new_run("r1", key="other")  # a reused run id violates the primary key
    with pytest.raises(StoreError):
        await store.enqueue_batch([req(new_run("r2", key="k2"), ("cron-1", at(60))), req(clash)])
    assert await store.get_run("r2") is None
    assert await store.get_trigger_state("cron-1") is None


# -- claim --------------------------------------------------------------------------------------


async def test_claim_oldest_due_first_with_lease(store: RunStore) -> None:
    await enqueue(store, new_run("r3", enqueued=3), new_run("r1", enqueued=1))
    await enqueue(store, new_run("r2", enqueued=2), new_run("later", enqueued=0, due=50))
    runs = await store.claim(owner="node-a", limit=2, now=at(10), lease_seconds=15, graph_limits={})
    assert [r.run_id for r in runs] == ["r1", "r2"]
    for run in runs:
        assert run.status is RunStatus.running and run.started_at == at(10)
        assert run.lease_owner == "node-a" and run.lease_expires_at == at(25)
        assert run.attempt == 1
    assert await claim(store, "node-b", now=10) == ["r3"]
    assert await claim(store, "node-b", now=49) == []
    assert await claim(store, "node-b", now=50) == ["later"]
    assert await claim(store, "node-b", now=99) == []


async def test_claim_global_limit_and_zero(store: RunStore) -> None:
    await enqueue(store, *(new_run(f"r{i}", enqueued=i) for i in range(5)))
    assert await claim(store, limit=0) == []
    assert await claim(store, limit=3) == ["r0", "r1", "r2"]
    assert await claim(store, limit=3) == ["r3", "r4"]


async def test_claim_respects_graph_limits_across_nodes(
    store: RunStore, other_store: RunStore
) -> None:
    runs = [new_run(f"s{i}", graph="slow", enqueued=i) for i in range(4)]
    runs += [new_run(f"f{i}", graph="fast", enqueued=10 + i) for i in range(2)]
    await enqueue(store, *runs)
    limits = {"slow": 2}
    assert await claim(store, "node-a", limit=10, now=20, graph_limits=limits) == [
        "s0", "s1", "f0", "f1",
    ]  # fmt: skip
    assert await claim(other_store, "node-b", limit=10, now=20, graph_limits=limits) == []
    await store.complete_many(owner="node-a", completions=[ok("s0")], now=at(21))
    assert await claim(other_store, "node-b", limit=10, now=22, graph_limits=limits) == ["s2"]
    assert await claim(store, "node-a", limit=10, now=22, graph_limits=limits) == []
    assert await claim(store, "node-a", limit=10, now=22, graph_limits={"slow": 3}) == ["s3"]


async def test_graph_limit_does_not_block_other_graphs(store: RunStore) -> None:
    await enqueue(store, *(new_run(f"s{i}", graph="slow", enqueued=i) for i in range(50)))
    await enqueue(store, new_run("f0", graph="fast", enqueued=100))
    got = await claim(store, limit=3, now=200, graph_limits={"slow": 1})
    assert got == ["s0", "f0"]


async def test_claim_only_listed_graphs(store: RunStore) -> None:
    await enqueue(store, new_run("a", graph="ga"), new_run("b", graph="gb", enqueued=1))
    await enqueue(store, new_run("c", graph="gc", enqueued=2))
    assert await claim(store, now=5, graph_ids=[]) == []
    assert await claim(store, now=5, graph_ids=["gc", "ga"]) == ["a", "c"]
    assert await claim(store, now=5) == ["b"]


async def test_concurrent_claims_from_two_nodes_never_overlap(
    store: RunStore, other_store: RunStore
) -> None:
    total = 120
    await enqueue(store, *(new_run(f"r{i:03}", enqueued=i / 1000) for i in range(total)))
    got: dict[str, list[str]] = {"a": [], "b": []}

    async def worker(name: str, s: RunStore) -> None:
        while batch := await claim(s, name, limit=7, now=10):
            got[name].extend(batch)
            await anyio.sleep(0)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker, "a", store)
            tg.start_soon(worker, "b", other_store)
    claimed = got["a"] + got["b"]
    assert len(claimed) == total and len(set(claimed)) == total


# -- heartbeat, completion, retry, release -------------------------------------------------------


async def test_heartbeat_extends_only_held_leases(store: RunStore) -> None:
    await enqueue(store, new_run("r1"), new_run("r2", enqueued=1))
    await claim(store, "node-a", limit=1, now=10)
    await claim(store, "node-b", limit=1, now=10)
    held, cancel = await store.heartbeat(
        owner="node-a", run_ids=["r1", "r2", "nope"], now=at(20), lease_seconds=LEASE
    )
    assert (held, cancel) == ({"r1"}, set())
    run = await store.get_run("r1")
    assert run is not None and run.lease_expires_at == at(50)
    other = await store.get_run("r2")
    assert other is not None and other.lease_expires_at == at(10 + LEASE)
    assert await store.heartbeat(owner="x", run_ids=[], now=at(20), lease_seconds=1) == (
        set(),
        set(),
    )


async def test_complete_many_records_outcomes_for_held_leases_only(store: RunStore) -> None:
    await enqueue(store, *(new_run(f"r{i}", enqueued=i) for i in range(4)))
    assert await claim(store, "node-a", limit=3) == ["r0", "r1", "r2"]
    err = RunError(type="ValueError", message="bad input")
    done = await store.complete_many(
        owner="node-a",
        completions=[
            ok("r0", {"answer": [42]}),
            Completion(run_id="r1", status=RunStatus.failed, error=err),
            Completion(run_id="r3", status=RunStatus.succeeded),  # pending: not leased
            Completion(run_id="missing", status=RunStatus.succeeded),
        ],
        now=at(5),
    )
    assert done == {"r0", "r1"}
    r0, r1, r3 = [await store.get_run(i) for i in ("r0", "r1", "r3")]
    assert r0 is not None and r0.status is RunStatus.succeeded and r0.result == {"answer": [42]}
    assert r0.finished_at == at(5) and r0.lease_owner is None and r0.lease_expires_at is None
    assert r0.started_at == at(1000) and r0.finished
    assert r1 is not None and r1.status is RunStatus.failed and r1.error == err
    assert r3 is not None and r3.status is RunStatus.pending
    assert await store.complete_many(owner="node-b", completions=[ok("r2")], now=at(6)) == set()
    assert await store.complete_many(owner="node-a", completions=[ok("r0")], now=at(6)) == set()
    assert await store.complete_many(owner="node-a", completions=[], now=at(6)) == set()


async def test_result_json_values(store: RunStore) -> None:
    values: list[object] = ["text", 3, 2.5, [1, {"a": None}], True, None]
    await enqueue(store, *(new_run(f"r{i}", enqueued=i) for i in range(len(values))))
    await claim(store)
    completions = [ok(f"r{i}", v) for i, v in enumerate(values)]
    await store.complete_many(owner="node-a", completions=completions, now=at(1))
    for i, value in enumerate(values):
        run = await store.get_run(f"r{i}")
        assert run is not None and run.result == value


async def test_retry_counts_an_attempt_and_waits(store: RunStore) -> None:
    await enqueue(store, new_run("r1", max_attempts=3))
    await claim(store)
    err = RunError(type="TimeoutError", message="took too long")
    assert not await store.retry(
        run_id="r1", owner="node-b", not_before=at(60), error=err, now=at(1)
    )
    assert await store.retry(run_id="r1", owner="node-a", not_before=at(60), error=err, now=at(1))
    run = await store.get_run("r1")
    assert run is not None and run.status is RunStatus.pending
    assert (run.attempt, run.not_before, run.error) == (2, at(60), err)
    assert run.lease_owner is None and run.lease_expires_at is None and run.finished_at is None
    assert await store.next_due() == at(60)
    assert await claim(store, now=59) == []
    [again] = await store.claim(
        owner="node-b", limit=5, now=at(60), lease_seconds=5, graph_limits={}
    )
    assert (again.run_id, again.attempt, again.error) == ("r1", 2, err)
    assert not await store.retry(
        run_id="r1", owner="node-a", not_before=at(90), error=err, now=at(61)
    )


async def test_release_returns_runs_without_counting_an_attempt(store: RunStore) -> None:
    await enqueue(store, new_run("r1"), new_run("r2", enqueued=1), new_run("r3", enqueued=2))
    await claim(store, "node-a", limit=2)
    await claim(store, "node-b", limit=1)
    assert await store.release(owner="node-a", run_ids=["r1", "r2", "r3"], now=at(5)) == 2
    for run_id in ("r1", "r2"):
        run = await store.get_run(run_id)
        assert run is not None and run.status is RunStatus.pending and run.attempt == 1
        assert run.started_at is None and run.lease_owner is None and run.lease_expires_at is None
    r3 = await store.get_run("r3")
    assert r3 is not None and r3.status is RunStatus.running and r3.lease_owner == "node-b"
    assert await store.release(owner="node-a", run_ids=[], now=at(5)) == 0
    assert await claim(store, "node-c", now=6) == ["r1", "r2"]


# -- lease expiry ---------------------------------------------------------------------------------


async def test_expired_lease_is_requeued_without_costing_an_attempt(
    store: RunStore, other_store: RunStore
) -> None:
    await enqueue(store, new_run("r1", max_attempts=1))
    await claim(store, "node-a", now=0, lease=10)
    assert await other_store.requeue_expired(now=at(10)) == 0  # expires_at is not yet past
    assert await other_store.requeue_expired(now=at(11)) == 1
    run = await store.get_run("r1")
    assert run is not None and run.status is RunStatus.pending
    assert run.attempt == 1 and run.interruptions == 1  # process death costs no attempt
    assert run.lease_owner is None and run.lease_expires_at is None and run.started_at is None
    assert (
        run.error is not None and run.error.type == "LeaseExpired" and "node-a" in run.error.message
    )
    (kept,) = await store.list_attempts("r1")
    assert (kept.number, kept.outcome, kept.started_at, kept.finished_at) == (
        1, "interrupted", at(0), at(11),
    )  # fmt: skip
    assert kept.error is not None and kept.error.type == "LeaseExpired"
    # the first owner lost its lease: its late results are ignored
    assert await store.complete_many(owner="node-a", completions=[ok("r1")], now=at(12)) == set()
    assert await store.heartbeat(owner="node-a", run_ids=["r1"], now=at(12), lease_seconds=5) == (
        set(),
        set(),
    )
    assert await claim(other_store, "node-b", now=12, lease=10) == ["r1"]
    assert await store.complete_many(owner="node-b", completions=[ok("r1")], now=at(13)) == {"r1"}
    run = await store.get_run("r1")
    assert run is not None and run.status is RunStatus.succeeded and run.interruptions == 1
    history = attempt_history(run, await store.list_attempts("r1"))
    assert [(a.number, a.outcome) for a in history] == [(1, "interrupted"), (1, "succeeded")]


async def test_a_run_interrupted_past_max_interruptions_fails_naming_the_count(
    store: RunStore, other_store: RunStore
) -> None:
    await enqueue(store, new_run("r1", max_attempts=2, max_interruptions=2))
    for n in range(3):
        assert await claim(store, f"node-{n}", now=20 * n, lease=10) == ["r1"]
        assert await other_store.requeue_expired(now=at(20 * n + 11)) == 1
        run = await store.get_run("r1")
        assert run is not None and run.attempt == 1 and run.interruptions == n + 1
    assert run.status is RunStatus.failed and run.finished and run.finished_at == at(51)
    assert run.lease_owner is None and run.started_at == at(40)
    assert run.error is not None and run.error.type == "Interrupted"
    assert "interrupted 3 times (max_interruptions = 2)" in run.error.message
    assert "node-2" in run.error.message
    history = attempt_history(run, await store.list_attempts("r1"))
    assert [(a.number, a.outcome) for a in history] == [(1, "interrupted")] * 3
    assert await store.requeue_expired(now=at(100)) == 0


async def test_retry_keeps_the_failed_attempt_with_its_traceback(store: RunStore) -> None:
    await enqueue(store, new_run("r1", max_attempts=2))
    await claim(store, "node-a", now=0)
    error = RunError(type="ValueError", message="boom", traceback="Traceback...\nValueError: boom")
    assert await store.retry(run_id="r1", owner="node-a", not_before=at(5), error=error, now=at(2))
    run = await store.get_run("r1")
    assert run is not None and run.status is RunStatus.pending and run.attempt == 2
    assert run.error == error and run.error.traceback == error.traceback
    assert await claim(store, "node-a", now=6) == ["r1"]
    timeout = RunError(type="TimeoutError", message="slow", traceback="tb")
    failed = Completion(run_id="r1", status=RunStatus.failed, error=timeout)
    assert await store.complete_many(owner="node-a", completions=[failed], now=at(9)) == {"r1"}
    run = await store.get_run("r1")
    assert run is not None and run.error == timeout
    history = attempt_history(run, await store.list_attempts("r1"))
    assert [(a.number, a.outcome, a.error) for a in history] == [
        (1, "failed", error),
        (2, "timed_out", timeout),
    ]
    assert (history[0].started_at, history[0].finished_at) == (at(0), at(2))
    assert (history[1].started_at, history[1].finished_at) == (at(6), at(9))
    assert await store.prune(finished_before=at(10)) == 1
    assert await store.list_attempts("r1") == []  # pruned with its run


async def test_heartbeat_keeps_a_lease_alive(store: RunStore) -> None:
    await enqueue(store, new_run("r1"))
    await claim(store, now=0, lease=10)
    for t in (8, 16, 24):
        held, _ = await store.heartbeat(owner="node-a", run_ids=["r1"], now=at(t), lease_seconds=10)
        assert held == {"r1"}
        assert await store.requeue_expired(now=at(t + 5)) == 0
    assert await store.requeue_expired(now=at(35)) == 1


async def test_expired_lease_of_a_cancel_requested_run_ends_cancelled(store: RunStore) -> None:
    await enqueue(store, new_run("r1", max_attempts=5))
    await claim(store, now=0, lease=10)
    await store.request_cancel("r1", now=at(2))
    assert await store.requeue_expired(now=at(11)) == 1
    run = await store.get_run("r1")
    assert run is not None and run.status is RunStatus.cancelled and run.finished_at == at(11)
