"""LISTEN/NOTIFY wake-ups between nodes, the polling fallback, and cancellable waits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import psycopg
import pytest

from stargraph.store.postgres import PostgresStore
from stargraph.store.postgres.listen import RECONNECT_BACKOFF, Listener

from ._helpers import at, new_run, req

pytestmark = pytest.mark.postgres


async def _timed_wait(store: PostgresStore, timeout: float) -> float:
    start = anyio.current_time()
    await store.wait_for_work(timeout)
    return anyio.current_time() - start


async def test_enqueue_on_one_node_wakes_a_waiter_on_another(
    node_factory: Callable[..., Any],
) -> None:
    waiter: PostgresStore = await node_factory()
    writer: PostgresStore = await node_factory()
    await waiter.wait_for_work(0.01)  # drain anything pending from open()
    elapsed: list[float] = []

    async def wait() -> None:
        elapsed.append(await _timed_wait(waiter, 10))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.sleep(0.2)  # the waiter is listening
            await writer.enqueue_batch([req(new_run("r1"))])
    assert elapsed and elapsed[0] < 0.2 + 0.5, elapsed


async def test_a_duplicate_only_batch_does_not_notify(node_factory: Callable[..., Any]) -> None:
    waiter: PostgresStore = await node_factory()
    writer: PostgresStore = await node_factory()
    await writer.enqueue_batch([req(new_run("r1"))])
    await waiter.wait_for_work(0.2)  # consume the first notification
    outcomes = await writer.enqueue_batch([req(new_run("r2", key="key-r1"))])
    assert outcomes[0].deduplicated
    with anyio.fail_after(5):
        assert await _timed_wait(waiter, 0.4) >= 0.35  # nothing new: waits the full timeout


async def test_released_and_rescued_runs_notify(node_factory: Callable[..., Any]) -> None:
    waiter: PostgresStore = await node_factory()
    worker: PostgresStore = await node_factory()
    await worker.enqueue_batch([req(new_run("r1")), req(new_run("r2", max_attempts=2))])
    claimed = await worker.claim(owner="w", limit=2, now=at(1), lease_seconds=5, graph_limits={})
    assert len(claimed) == 2
    await waiter.wait_for_work(0.2)
    with anyio.fail_after(5):
        assert await worker.release(owner="w", run_ids=["r1"], now=at(2)) == 1
        assert await _timed_wait(waiter, 3) < 1.0
        assert await worker.requeue_expired(now=at(100)) == 1
        assert await _timed_wait(waiter, 3) < 1.0


async def test_wait_is_cancellable_and_the_listener_survives(
    node_factory: Callable[..., Any],
) -> None:
    waiter: PostgresStore = await node_factory()
    writer: PostgresStore = await node_factory()
    with anyio.fail_after(5):
        start = anyio.current_time()
        with anyio.move_on_after(0.1):
            await waiter.wait_for_work(30)
        assert anyio.current_time() - start < 0.5
        # a notification after the cancelled wait still reaches the next wait
        await writer.enqueue_batch([req(new_run("r1"))])
        assert await _timed_wait(waiter, 3) < 1.0


async def test_concurrent_waiters_share_one_wake_up(node_factory: Callable[..., Any]) -> None:
    waiter: PostgresStore = await node_factory()
    writer: PostgresStore = await node_factory()
    await waiter.wait_for_work(0.01)
    elapsed: list[float] = []

    async def wait() -> None:
        elapsed.append(await _timed_wait(waiter, 10))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(wait)
            await anyio.sleep(0.2)
            await writer.enqueue_batch([req(new_run("r1"))])
    assert len(elapsed) == 3 and max(elapsed) < 1.0, elapsed


async def test_lost_listener_falls_back_to_polling_then_reconnects(
    node_factory: Callable[..., Any], admin: psycopg.Connection[Any], postgres_url: str
) -> None:
    waiter: PostgresStore = await node_factory(application_name="waiter")
    writer: PostgresStore = await node_factory()
    await waiter.wait_for_work(0.01)
    dbname = postgres_url.rsplit("/", 1)[1]
    killed = admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND application_name = 'waiter-listen'",
        (dbname,),
    ).fetchall()
    assert killed == [(True,)]
    with anyio.fail_after(10):
        # the broken connection is noticed; the wait degrades to a sleep, never an error
        await waiter.wait_for_work(0.3)
        # it reconnects (after a short backoff) and reports a possibly missed wake-up
        assert await _timed_wait(waiter, 5) < RECONNECT_BACKOFF + 1.0
        await writer.enqueue_batch([req(new_run("r1"))])
        assert await _timed_wait(waiter, 3) < 1.0


async def test_listen_false_polls_instead(node_factory: Callable[..., Any]) -> None:
    waiter: PostgresStore = await node_factory(listen="false")
    writer: PostgresStore = await node_factory()
    await writer.enqueue_batch([req(new_run("r1"))])
    with anyio.fail_after(5):
        assert await _timed_wait(waiter, 0.3) >= 0.25  # no LISTEN: sleeps out the timeout


async def test_an_unreachable_server_degrades_to_sleeping() -> None:
    listener = Listener("postgresql://u@127.0.0.1:1/nodb", "stargraph_runs", "nowhere", "t")
    with anyio.fail_after(10):
        for _ in range(2):  # no error, no busy loop: each wait sleeps out its timeout
            start = anyio.current_time()
            await listener.wait(0.6)
            assert 0.55 <= anyio.current_time() - start < 3
        await listener.close()
