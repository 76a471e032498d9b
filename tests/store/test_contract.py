"""The RunStore contract, run against every store (SQLite, and PostgreSQL when available).

Written against :class:`stargraph.store.RunStore` only: no store internals.
"""

from __future__ import annotations

import anyio
import pytest

from stargraph.errors import StoreError
from stargraph.store import (
    Completion,
    NewRun,
    RunError,
    RunStatus,
    RunStore,
)

from ._helpers import T0, at, new_run, req

LEASE = 30.0


async def enqueue(store: RunStore, *runs: NewRun) -> list[str]:
    outcomes = await store.enqueue_batch([req(r) for r in runs])
    assert not any(o.deduplicated for o in outcomes)
    return [o.run_id for o in outcomes]


async def claim(
    store: RunStore, owner: str = "node-a", limit: int = 100, now: float = 1000.0, **kw: object
) -> list[str]:
    runs = await store.claim(
        owner=owner,
        limit=limit,
        now=at(now),
        lease_seconds=kw.pop("lease", LEASE),  # type: ignore[arg-type]
        graph_limits=kw.pop("graph_limits", {}),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )
    return [r.run_id for r in runs]


def ok(run_id: str, result: object = None) -> Completion:
    return Completion(run_id=run_id, status=RunStatus.succeeded, result=result)


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


async def test_expired_lease_is_rescued_then_fails_when_attempts_are_used(
    store: RunStore, other_store: RunStore
) -> None:
    await enqueue(store, new_run("r1", max_attempts=2))
    await claim(store, "node-a", now=0, lease=10)
    assert await other_store.requeue_expired(now=at(10)) == 0  # expires_at is not yet past
    assert await other_store.requeue_expired(now=at(11)) == 1
    run = await store.get_run("r1")
    assert run is not None and run.status is RunStatus.pending and run.attempt == 2
    assert run.lease_owner is None and run.lease_expires_at is None and run.started_at is None
    # the first owner lost its lease: its late results are ignored
    assert await store.complete_many(owner="node-a", completions=[ok("r1")], now=at(12)) == set()
    assert await store.heartbeat(owner="node-a", run_ids=["r1"], now=at(12), lease_seconds=5) == (
        set(),
        set(),
    )
    assert await claim(other_store, "node-b", now=12, lease=10) == ["r1"]
    assert await store.requeue_expired(now=at(23)) == 1
    run = await store.get_run("r1")
    assert run is not None and run.status is RunStatus.failed and run.finished
    assert run.attempt == 2 and run.finished_at == at(23) and run.lease_owner is None
    assert run.error is not None and run.error.type == "LeaseExpired" and run.error.message
    assert await store.requeue_expired(now=at(100)) == 0


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


# -- cancel -------------------------------------------------------------------------------------


async def test_cancel_in_each_status(store: RunStore) -> None:
    await enqueue(store, new_run("p"), new_run("r", enqueued=1), new_run("f", enqueued=2))
    assert await claim(store, limit=1, now=1, graph_ids=["g"]) == ["p"]  # "p" runs now
    assert await claim(store, limit=1, now=2) == ["r"]
    await store.complete_many(owner="node-a", completions=[ok("r")], now=at(3))
    # "p" is running, "r" succeeded, "f" is pending
    pending = await store.request_cancel("f", now=at(4))
    assert pending is not None and pending.status is RunStatus.cancelled
    assert pending.finished_at == at(4) and pending.finished
    running = await store.request_cancel("p", now=at(5))
    assert running is not None and running.status is RunStatus.running and running.cancel_requested
    held, cancel = await store.heartbeat(owner="node-a", run_ids=["p"], now=at(6), lease_seconds=9)
    assert (held, cancel) == ({"p"}, {"p"})
    finished = await store.request_cancel("r", now=at(7))
    assert finished is not None and finished.status is RunStatus.succeeded
    assert finished.finished_at == at(3) and not finished.cancel_requested
    again = await store.request_cancel("f", now=at(8))
    assert again is not None and again.finished_at == at(4)
    assert await store.request_cancel("missing", now=at(9)) is None
    assert await claim(store, now=10) == []  # a cancelled run is never claimed
    done = await store.complete_many(
        owner="node-a",
        completions=[Completion(run_id="p", status=RunStatus.cancelled)],
        now=at(11),
    )
    assert done == {"p"}


# -- listing and counts -------------------------------------------------------------------------


async def _listing_fixture(store: RunStore) -> None:
    runs = [
        new_run(f"r{i:02}", graph="ga" if i % 2 else "gb", enqueued=i, trigger_id=f"t{i % 3}")
        for i in range(10)
    ]
    runs += [new_run("tie-a", enqueued=4), new_run("tie-b", enqueued=4)]  # same enqueued_at
    await enqueue(store, *runs)
    await claim(store, limit=2, now=1.5)  # r00 and r01 run


async def test_list_newest_first_with_filters(store: RunStore) -> None:
    from stargraph.store import RunFilter

    await _listing_fixture(store)
    page = await store.list_runs(RunFilter(), limit=50, cursor=None)
    assert [r.run_id for r in page.items][:5] == ["r09", "r08", "r07", "r06", "r05"]
    assert [r.run_id for r in page.items][5:8] == ["tie-b", "tie-a", "r04"]
    assert page.next_cursor is None and len(page.items) == 12

    async def ids(**kw: object) -> list[str]:
        page = await store.list_runs(RunFilter(**kw), limit=50, cursor=None)  # type: ignore[arg-type]
        return [r.run_id for r in page.items]

    assert await ids(graph_id="ga") == ["r09", "r07", "r05", "r03", "r01"]
    assert await ids(status=RunStatus.running) == ["r01", "r00"]
    assert await ids(trigger_id="t1") == ["r07", "r04", "r01"]
    assert await ids(graph_id="ga", status=RunStatus.pending, trigger_id="t0") == ["r09", "r03"]
    assert await ids(enqueued_after=at(7)) == ["r09", "r08", "r07"]  # inclusive
    assert await ids(enqueued_before=at(2)) == ["r01", "r00"]  # exclusive
    assert await ids(enqueued_after=at(3), enqueued_before=at(5)) == [
        "tie-b",
        "tie-a",
        "r04",
        "r03",
    ]
    assert await ids(graph_id="nope") == []


async def test_pagination_is_complete_and_stable(store: RunStore) -> None:
    from stargraph.store import RunFilter

    await _listing_fixture(store)
    seen: list[str] = []
    cursor: str | None = None
    for page_no in range(10):
        page = await store.list_runs(RunFilter(), limit=5, cursor=cursor)
        seen += [r.run_id for r in page.items]
        if page_no == 0:  # a newer run arriving between pages must not shift later pages
            await enqueue(store, new_run("newest", enqueued=99))
        cursor = page.next_cursor
        if cursor is None:
            break
    full = await store.list_runs(RunFilter(), limit=50, cursor=None)
    assert seen == [r.run_id for r in full.items if r.run_id != "newest"]
    assert len(seen) == 12 and page_no == 2
    exact = await store.list_runs(RunFilter(graph_id="ga"), limit=5, cursor=None)
    assert len(exact.items) == 5 and exact.next_cursor is None  # no empty trailing page


async def test_bad_page_cursor_is_rejected(store: RunStore) -> None:
    from stargraph.errors import InvalidCursor
    from stargraph.store import RunFilter

    for bad in ("garbage", "!!!", ""):
        with pytest.raises(InvalidCursor):
            await store.list_runs(RunFilter(), limit=5, cursor=bad or "x")


async def test_next_due_and_counts(store: RunStore) -> None:
    assert await store.next_due() is None
    counts = await store.count_by_status()
    assert counts == dict.fromkeys(RunStatus, 0)
    await enqueue(store, new_run("a", due=30), new_run("b", enqueued=1, due=20))
    await enqueue(store, new_run("c", enqueued=2, due=5))
    assert await store.next_due() == at(5)
    await claim(store, limit=1, now=5)
    assert await store.next_due() == at(20)
    counts = await store.count_by_status()
    assert counts[RunStatus.pending] == 2 and counts[RunStatus.running] == 1
    assert counts[RunStatus.succeeded] == 0


# -- prune --------------------------------------------------------------------------------------


async def test_prune_deletes_old_finished_runs_and_frees_their_keys(store: RunStore) -> None:
    await enqueue(store, new_run("old", key="k-old"), new_run("new", key="k-new", enqueued=1))
    await enqueue(store, new_run("run", enqueued=2), new_run("pend", enqueued=3))
    await claim(store, limit=3, now=3)
    await store.complete_many(owner="node-a", completions=[ok("old")], now=at(10))
    await store.complete_many(owner="node-a", completions=[ok("new")], now=at(100))
    assert await store.prune(finished_before=at(10)) == 0  # strictly older only
    assert await store.prune(finished_before=at(50)) == 1
    assert await store.get_run("old") is None
    for kept in ("new", "run", "pend"):
        assert await store.get_run(kept) is not None
    [reused] = await store.enqueue_batch([req(new_run("old2", key="k-old"))])
    assert (reused.run_id, reused.deduplicated) == ("old2", False)
    [still] = await store.enqueue_batch([req(new_run("new2", key="k-new"))])
    assert (still.run_id, still.deduplicated) == ("new", True)


# -- trigger state ------------------------------------------------------------------------------


async def test_trigger_pause_resume_and_cursor(store: RunStore) -> None:
    assert await store.get_trigger_state("t1") is None
    assert await store.list_trigger_states() == []
    state = await store.set_trigger_paused("t1", paused=True, now=at(1), note="maintenance")
    assert (state.trigger_id, state.paused, state.note) == ("t1", True, "maintenance")
    assert state.cursor is None and state.updated_at == at(1)
    await store.set_trigger_cursor("t1", at(100), now=at(2))
    state = await store.set_trigger_paused("t1", paused=False, now=at(3))
    assert not state.paused and state.note is None and state.cursor == at(100)
    # resuming "from now" stores the given cursor as is, even when it moves back
    state = await store.set_trigger_paused("t1", paused=False, now=at(4), cursor=at(50))
    assert state.cursor == at(50) and state.updated_at == at(4)
    await store.set_trigger_cursor("t2", at(7), now=at(5))
    states = await store.list_trigger_states()
    assert sorted((s.trigger_id, s.cursor, s.paused) for s in states) == [
        ("t1", at(50), False),
        ("t2", at(7), False),
    ]
    assert await store.get_trigger_state("t1") == state


# -- webhook nonces -----------------------------------------------------------------------------


async def test_nonces_refuse_replays_until_they_expire(store: RunStore) -> None:
    assert await store.add_nonce("hook-a", "n1", expires_at=at(300), now=at(0))
    assert not await store.add_nonce("hook-a", "n1", expires_at=at(400), now=at(100))
    assert await store.add_nonce("hook-b", "n1", expires_at=at(300), now=at(100))
    assert await store.add_nonce("hook-a", "n2", expires_at=at(300), now=at(100))
    assert not await store.add_nonce("hook-a", "n1", expires_at=at(600), now=at(299))
    assert await store.add_nonce("hook-a", "n1", expires_at=at(600), now=at(301))
    assert not await store.add_nonce("hook-a", "n1", expires_at=at(900), now=at(400))


async def test_batched_nonces_when_the_store_offers_them(store: RunStore) -> None:
    from stargraph.store.base import BatchNonceStore, NonceRequest

    if not isinstance(store, BatchNonceStore):
        pytest.skip(f"{type(store).__name__} has no add_nonces (an optional capability)")
    assert await store.add_nonce("hook", "old", expires_at=at(100), now=at(0))
    items = [
        NonceRequest(scope="hook", nonce=n, expires_at=at(500))
        for n in ("a", "b", "a", "old", "late")
    ]
    assert await store.add_nonces(items[:4], now=at(50)) == [True, True, False, False]
    assert await store.add_nonces([items[3], items[4]], now=at(101)) == [True, True]
    assert await store.add_nonces([], now=at(102)) == []
