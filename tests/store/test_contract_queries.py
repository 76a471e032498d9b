"""The RunStore contract, part 2: cancel, listing, counts, prune, trigger state, nonces.

Written against :class:`stargraph.store.RunStore` only: no store internals.
"""

from __future__ import annotations

import attrs
import pytest

from stargraph.store import Completion, EnqueueRequest, NewRun, Nonce, RunStatus, RunStore

from ._helpers import add_nonce, add_nonces, at, claim, enqueue, new_run, ok, req

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


async def test_list_filters_by_trigger_source(store: RunStore) -> None:
    from stargraph.store import RunFilter

    await enqueue(
        store, new_run("c1", trigger_source="cron"), new_run("w1", enqueued=1,
        trigger_source="webhook"), new_run("c2", enqueued=2, trigger_source="cron"),
    )  # fmt: skip
    page = await store.list_runs(RunFilter(trigger_source="cron"), limit=50, cursor=None)
    assert [r.run_id for r in page.items] == ["c2", "c1"]
    page = await store.list_runs(RunFilter(trigger_source="fs"), limit=50, cursor=None)
    assert page.items == []


async def test_finished_since_newest_first_with_times(store: RunStore) -> None:
    await enqueue(
        store, new_run("a", trigger_id="cron:x", trigger_source="cron", scheduled_fire=at(0)),
        new_run("b", enqueued=1), new_run("c", enqueued=2), new_run("p", enqueued=3),
    )  # fmt: skip
    assert await claim(store, limit=3, now=4) == ["a", "b", "c"]
    for run_id, when in (("a", 5), ("b", 7), ("c", 9)):
        await store.complete_many(owner="node-a", completions=[ok(run_id)], now=at(when))
    rows = await store.finished_since(at(6), limit=10)
    assert [(r.finished_at, r.status) for r in rows] == [
        (at(9), RunStatus.succeeded), (at(7), RunStatus.succeeded),
    ]  # fmt: skip
    (only,) = await store.finished_since(at(0), limit=1)
    assert only.finished_at == at(9) and only.started_at == at(4) and only.enqueued_at == at(2)
    (first,) = [r for r in await store.finished_since(at(0), limit=10) if r.finished_at == at(5)]
    assert (first.trigger_id, first.trigger_source, first.scheduled_fire) == (
        "cron:x", "cron", at(0),
    )  # fmt: skip
    assert await store.finished_since(at(10), limit=10) == []


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
    assert await add_nonce(store, "hook-a", "n1", expires_at=at(300), now=at(0))
    assert not await add_nonce(store, "hook-a", "n1", expires_at=at(400), now=at(100))
    assert await add_nonce(store, "hook-b", "n1", expires_at=at(300), now=at(100))
    assert await add_nonce(store, "hook-a", "n2", expires_at=at(300), now=at(100))
    assert not await add_nonce(store, "hook-a", "n1", expires_at=at(600), now=at(299))
    assert await add_nonce(store, "hook-a", "n1", expires_at=at(600), now=at(301))
    assert not await add_nonce(store, "hook-a", "n1", expires_at=at(900), now=at(400))


async def test_batched_nonces_in_one_enqueue_transaction(store: RunStore) -> None:
    assert await add_nonce(store, "hook", "old", expires_at=at(100), now=at(0))
    items = [("hook", n, at(500)) for n in ("a", "b", "a", "old", "late")]
    assert await add_nonces(store, items[:4], now=at(50)) == [True, True, False, False]
    assert await add_nonces(store, [items[3], items[4]], now=at(101)) == [True, True]
    assert await add_nonces(store, [], now=at(102)) == []


async def test_a_replayed_nonce_deduplicates_onto_the_same_run(store: RunStore) -> None:
    first = NewRun(
        run_id="r1", graph_id="g", idempotency_key="hook:d1", enqueued_at=at(0), not_before=at(0)
    )
    nonce = Nonce(scope="hook", nonce="sig-1", expires_at=at(300))
    (a,) = await store.enqueue_batch([EnqueueRequest(run=first, nonce=nonce)])
    again = attrs.evolve(first, run_id="r2", enqueued_at=at(10), not_before=at(10))
    (b,) = await store.enqueue_batch([EnqueueRequest(run=again, nonce=nonce)])
    assert (a.run_id, a.deduplicated, a.replay) == ("r1", False, False)
    assert (b.run_id, b.deduplicated, b.replay) == ("r1", True, True)
    other = attrs.evolve(first, run_id="r3", idempotency_key="hook:d2")
    (c,) = await store.enqueue_batch([EnqueueRequest(run=other)])  # no nonce: never a replay
    assert (c.run_id, c.deduplicated, c.replay) == ("r3", False, False)
