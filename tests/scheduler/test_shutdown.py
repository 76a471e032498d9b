"""Shutdown: drain within the grace period, cancel and release after it, commit the intake."""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
import pytest
from _settings import HANG_BOUND

from stargraph.lifecycle import LifecycleState
from stargraph.scheduler import Graph, RunContext, Scheduler
from stargraph.store import RunStatus, RunStore

from ._util import fast_settings


async def test_running_runs_finish_within_grace(store: RunStore) -> None:
    started = anyio.Event()

    async def slowish(params: dict[str, Any], ctx: RunContext) -> str:
        started.set()
        await anyio.sleep(0.3)
        return "finished"

    async with Scheduler(
        store, [Graph(graph_id="s", fn=slowish)], settings=fast_settings(shutdown_grace=5)
    ) as s:
        out = await s.submit("s")
        with anyio.fail_after(5):
            await started.wait()
    run = await store.get_run(out.run_id)
    assert run is not None and run.status is RunStatus.succeeded and run.result == "finished"


async def test_runs_past_grace_are_cancelled_and_released(store: RunStore) -> None:
    cancelled: list[str] = []
    started = anyio.Event()

    async def stuck(params: dict[str, Any], ctx: RunContext) -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(ctx.run_id)
            raise

    t0 = time.monotonic()
    async with Scheduler(
        store, [Graph(graph_id="g", fn=stuck)], settings=fast_settings(shutdown_grace=0.3)
    ) as s:
        out = await s.submit("g")
        with anyio.fail_after(5):
            await started.wait()
    assert time.monotonic() - t0 < 5
    assert cancelled == [out.run_id]
    released = await store.get_run(out.run_id)
    assert released is not None
    assert released.status is RunStatus.pending and released.attempt == 1
    assert released.lease_owner is None

    async def fine(params: dict[str, Any], ctx: RunContext) -> int:
        return ctx.attempt

    # The next start picks the released run up at once (no lease to wait for).
    async with Scheduler(store, [Graph(graph_id="g", fn=fine)], settings=fast_settings()) as s2:
        with anyio.fail_after(5):
            run = await s2.wait_run(out.run_id)
    assert run.status is RunStatus.succeeded and run.result == 1


async def test_shutdown_commits_what_is_in_the_intake(store: RunStore) -> None:
    async def noop(params: dict[str, Any], ctx: RunContext) -> None:
        return None

    async with Scheduler(store, [Graph(graph_id="n", fn=noop)], settings=fast_settings()) as s:
        receipts = [s.enqueue("n", {"i": i}, f"k{i}") for i in range(2000)]
        # Leave at once: nothing has been committed yet.
    outcomes = [r.result() for r in receipts]  # all resolved by the time the block exits
    assert len({o.run_id for o in outcomes}) == 2000
    counts = await store.count_by_status()
    assert sum(counts.values()) == 2000


async def test_task_group_start_form_shuts_down_on_cancel(store: RunStore) -> None:
    ran = anyio.Event()

    async def mark(params: dict[str, Any], ctx: RunContext) -> None:
        ran.set()

    scheduler = Scheduler(store, [Graph(graph_id="m", fn=mark)], settings=fast_settings())
    async with anyio.create_task_group() as tg:
        await tg.start(scheduler.run)
        assert scheduler.running
        out = await scheduler.submit("m")
        with anyio.fail_after(5):
            await ran.wait()
            await scheduler.wait_run(out.run_id)
        tg.cancel_scope.cancel()
    assert not scheduler.running
    run = await store.get_run(out.run_id)
    assert run is not None and run.status is RunStatus.succeeded


async def test_body_errors_propagate_unwrapped(store: RunStore) -> None:
    class Boom(Exception):
        pass

    try:
        async with Scheduler(store, [], settings=fast_settings()):
            raise Boom("from the body")
    except Boom as exc:
        assert str(exc) == "from the body"
    else:
        raise AssertionError("Boom was swallowed")


class _LateClaimStore:
    """The real store, but a claim's result reaches the dispatcher only when ``gate`` is set:
    a claim in flight at shutdown. *shielded*: the wait cannot be cancelled (the SQLite store's
    thread call, once taken); otherwise it can (a caller waiting for another's group commit).
    """

    def __init__(self, inner: RunStore, *, shielded: bool) -> None:
        self.inner = inner
        self.shielded = shielded
        self.gate = anyio.Event()
        self.claimed = anyio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def claim(self, **kwargs: Any) -> Any:
        runs = await self.inner.claim(**kwargs)
        if runs:
            self.claimed.set()
            with anyio.CancelScope(shield=self.shielded):
                await self.gate.wait()
        return runs


@pytest.mark.parametrize("shielded", [True, False], ids=["taken", "waiting"])
async def test_a_claim_in_flight_at_shutdown_is_run_not_stranded(
    store: RunStore, shielded: bool
) -> None:
    """Runs whose claim commits while shutdown begins are started (and finish within grace),
    not left ``running`` under this node's lease until it expires."""
    late = _LateClaimStore(store, shielded=shielded)

    async def quick(params: dict[str, Any], ctx: RunContext) -> str:
        return "ran"

    async def release_once_stopping(s: Scheduler) -> None:
        while s.state is not LifecycleState.stopping:
            await anyio.sleep(0.01)
        await anyio.sleep(0.3)  # the rest of the shutdown runs meanwhile
        late.gate.set()

    graphs = [Graph(graph_id="q", fn=quick)]
    sched = Scheduler(late, graphs, settings=fast_settings())  # type: ignore[arg-type]
    with anyio.fail_after(HANG_BOUND):
        async with anyio.create_task_group() as tg, sched:
            out = await sched.submit("q")
            await late.claimed.wait()
            tg.start_soon(release_once_stopping, sched)
    run = await store.get_run(out.run_id)
    assert run is not None and run.status is RunStatus.succeeded and run.result == "ran"


class _HungClaimStore:
    """The real store, but every claim hangs (a store that stopped answering)."""

    def __init__(self, inner: RunStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def claim(self, **kwargs: Any) -> Any:
        await anyio.sleep_forever()


async def test_a_hung_claim_is_abandoned_and_cannot_hold_a_shutdown(
    store: RunStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The claim's shield is bounded: a claim that never returns is abandoned after
    ``CLAIM_BOUND`` (logged as a failed cycle) and the scheduler still stops promptly."""
    from stargraph.scheduler import dispatcher

    monkeypatch.setattr(dispatcher, "CLAIM_BOUND", 0.2)
    caplog.set_level(logging.ERROR, "stargraph.scheduler")
    graphs = [Graph(graph_id="q", fn=lambda params, ctx: None)]
    hung = Scheduler(_HungClaimStore(store), graphs, settings=fast_settings())  # type: ignore[arg-type]
    t0 = time.monotonic()
    with anyio.fail_after(HANG_BOUND):
        async with hung:
            await hung.submit("q")
            while not any(
                "longer than 0.2 s" in str(getattr(r, "stargraph", "")) for r in caplog.records
            ):
                await anyio.sleep(0.02)
    assert time.monotonic() - t0 < 5
