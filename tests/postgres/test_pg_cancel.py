"""Cancelled queries return fast, roll back, and leave the pool usable."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from typing import Any

import anyio
import psycopg
import pytest

from stargraph.errors import StoreError
from stargraph.store import RunStatus
from stargraph.store.postgres import PostgresStore
from stargraph.store.postgres.exec import IDLE_CHECK
from stargraph.store.postgres.schema import LOCK_NAMESPACE

from ._helpers import at, new_run, req

pytestmark = pytest.mark.postgres


def _connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url)


async def test_a_query_blocked_on_a_lock_is_cancelled_and_rolled_back(
    node_factory: Callable[..., Any], postgres_url: str
) -> None:
    store: PostgresStore = await node_factory(pool_max_size=1)
    await store.enqueue_batch([req(new_run("r1"))])
    blocker = await anyio.to_thread.run_sync(_connect, postgres_url)
    try:
        await anyio.to_thread.run_sync(
            lambda: blocker.execute("SELECT 1 FROM runs WHERE run_id = 'r1' FOR UPDATE")
        )
        with anyio.fail_after(5):
            start = anyio.current_time()
            with anyio.move_on_after(0.3) as scope:
                await store.request_cancel("r1", now=at(1))  # waits on the row lock
            assert scope.cancelled_caught
            assert anyio.current_time() - start < 1.5
            # the single pooled connection is back and healthy
            await store.ping()
    finally:
        await anyio.to_thread.run_sync(blocker.rollback)
        await anyio.to_thread.run_sync(blocker.close)
    run = await store.get_run("r1")
    assert run is not None and run.status is RunStatus.pending  # the cancel rolled back
    assert await store.request_cancel("r1", now=at(2)) is not None


async def test_cancelling_at_random_moments_never_poisons_the_pool(
    node_factory: Callable[..., Any],
) -> None:
    store: PostgresStore = await node_factory(pool_max_size=1)
    await store.enqueue_batch([req(new_run(f"r{i}")) for i in range(20)])
    rng = random.Random(7)
    with anyio.fail_after(30):
        for i in range(40):
            with anyio.move_on_after(rng.uniform(0, 0.004)):
                await store.claim(
                    owner=f"o{i}", limit=1, now=at(1), lease_seconds=30, graph_limits={}
                )
            await store.ping()  # a stray cancel must not hit the next statement
        counts = await store.count_by_status()
    assert counts[RunStatus.pending] + counts[RunStatus.running] == 20


async def test_close_while_a_query_is_blocked_is_bounded(
    node_factory: Callable[..., Any], postgres_url: str
) -> None:
    store: PostgresStore = await node_factory()
    await store.enqueue_batch([req(new_run("r1"))])
    blocker = await anyio.to_thread.run_sync(_connect, postgres_url)
    try:
        await anyio.to_thread.run_sync(
            lambda: blocker.execute("SELECT 1 FROM runs WHERE run_id = 'r1' FOR UPDATE")
        )
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(store.wait_for_work, 30.0)
                tg.start_soon(partial(store.request_cancel, "r1", now=at(1)))
                await anyio.sleep(0.2)
                start = anyio.current_time()
                tg.cancel_scope.cancel()
            await store.close()
            assert anyio.current_time() - start < 3
    finally:
        await anyio.to_thread.run_sync(blocker.close)


async def test_a_cancelled_open_leaves_no_connection_behind(
    postgres_url: str, admin: psycopg.Connection[Any]
) -> None:
    admin.execute(  # hold the migration lock: open() blocks in migrate
        "SELECT pg_advisory_lock(%s, hashtext('migrate:'))", (LOCK_NAMESPACE,)
    )
    store = PostgresStore(postgres_url + "?application_name=opener")
    with anyio.fail_after(10):
        with anyio.move_on_after(0.5) as scope:
            await store.open()
        assert scope.cancelled_caught
        admin.execute("SELECT pg_advisory_unlock_all()")
        # the abandoned open goes on: it migrates, opens its pool, finds nobody waiting, closes
        while admin.execute("SELECT to_regclass('schema_version')").fetchone() == (None,):
            await anyio.sleep(0.05)
        quiet = 0  # the pool must be gone, and stay gone, for a full second
        while quiet < 10:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'opener%%'"
            ).fetchone()
            quiet = quiet + 1 if row == (0,) else 0
            await anyio.sleep(0.1)
    with pytest.raises(StoreError, match="not open"):
        await store.ping()


async def test_connections_killed_while_idle_are_replaced_without_a_failed_call(
    node_factory: Callable[..., Any], admin: psycopg.Connection[Any]
) -> None:
    store: PostgresStore = await node_factory(application_name="victim", pool_min_size=2)
    await store.enqueue_batch([req(new_run("r1"))])
    killed = admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'victim'"
    ).fetchall()
    assert len(killed) >= 1
    await anyio.sleep(IDLE_CHECK + 0.2)  # a restart or failover while the node was idle
    with anyio.fail_after(10):
        for _ in range(3):  # every pooled connection is checked and replaced
            await store.ping()
            assert await store.get_run("r1") is not None


async def test_a_cancelled_claim_never_leaves_runs_leased_behind(
    node_factory: Callable[..., Any], admin: psycopg.Connection[Any]
) -> None:
    store: PostgresStore = await node_factory()
    await store.enqueue_batch([req(new_run(f"r{i}")) for i in range(300)])
    rng = random.Random(11)
    seen: set[str] = set()  # runs whose claim reached the caller
    cancelled = 0

    async def spin() -> None:
        # Keep the event loop polling: asyncio sleeps in epoll to the whole millisecond, so a
        # sub-millisecond deadline fired when the loop woke anyway -- often with the result of
        # a ~1 ms claim, and then it cancels nothing (anyio does not cancel a task whose
        # awaited future is done): 2 to 4 of 150 claims were cut short on a quiet machine.
        while True:
            await anyio.sleep(0)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(spin)
            # a quiet machine claims fast: keep going (up to 150 claims' worth of runs) until
            # enough claims were really cut short, so the precondition below holds anywhere
            for _ in range(150):
                if cancelled >= 10:
                    break
                with anyio.move_on_after(rng.uniform(0.0002, 0.004)) as scope:
                    runs = await store.claim(
                        owner="me", limit=2, now=at(1), lease_seconds=30, graph_limits={}
                    )
                    seen.update(run.run_id for run in runs)
                cancelled += scope.cancelled_caught
            tg.cancel_scope.cancel()
    assert cancelled >= 5  # the test really cancelled claims mid-flight
    leased = {row[0] for row in admin.execute("SELECT run_id FROM runs WHERE status = 'running'")}
    assert leased == seen  # nothing leased that the caller never saw
    attempts = admin.execute("SELECT DISTINCT attempt FROM runs").fetchall()
    assert attempts == [(1,)]  # an undone claim costs no attempt
