"""A node's own notifications: dropped by its own listener, heard promptly by every other node."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import psycopg
import pytest

from stargraph.scheduler import Graph, RunContext, Scheduler, SchedulerSettings
from stargraph.store.postgres import PostgresStore
from stargraph.store.postgres.listen import SLICE, Listener

from ._helpers import new_run, req

pytestmark = pytest.mark.postgres

ENQUEUES = 40


def _listener(store: PostgresStore) -> Listener:
    listener = store._listener
    assert listener is not None
    return listener


async def test_a_producer_does_not_process_its_own_notifications(
    node_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claim: each of the producer's ENQUEUES notifications reaches its listener and is dropped
    there: none ends a ``wait_for_work`` early, and the reader thread returns to the event loop
    once per slice, not once per notification. Another node hears every one of them."""
    producer: PostgresStore = await node_factory()
    other: PostgresStore = await node_factory()
    listener = _listener(producer)
    reads = 0
    read = listener._read

    def counted(timeout: float) -> bool | None:
        nonlocal reads
        reads += 1
        return read(timeout)

    monkeypatch.setattr(listener, "_read", counted)
    waits: list[float] = []
    heard = 0

    async def wait_own() -> None:
        while True:
            start = anyio.current_time()
            await producer.wait_for_work(0.6)
            waits.append(anyio.current_time() - start)

    async def wait_other() -> None:
        nonlocal heard
        while True:
            await other.wait_for_work(10)
            heard += 1

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_own)
            tg.start_soon(wait_other)
            await anyio.sleep(0.1)  # both are listening
            started = anyio.current_time()
            for i in range(ENQUEUES):
                await producer.enqueue_batch([req(new_run(f"r{i}"))])
            while listener.ignored < ENQUEUES:  # every one arrived (and was dropped)
                await anyio.sleep(0.01)
            while len(waits) < 2:  # the waits under way during the enqueues are over
                await anyio.sleep(0.01)
            elapsed = anyio.current_time() - started
            tg.cancel_scope.cancel()
    assert listener.ignored == ENQUEUES
    assert waits and min(waits) >= 0.55, waits  # no wait ended early
    # at most one read per slice of each wait (plus the one under way when enqueueing began)
    bound = elapsed / SLICE + len(waits) + 2
    assert reads <= bound < ENQUEUES, (reads, bound)
    assert 1 <= heard <= ENQUEUES and _listener(other).ignored == 0


async def test_notifications_carry_the_node_id_one_per_transaction(
    node_factory: Callable[..., Any], admin: psycopg.Connection[Any]
) -> None:
    one: PostgresStore = await node_factory()
    two: PostgresStore = await node_factory()
    assert one.notice.node != two.notice.node
    admin.execute(f"LISTEN {one.channel}")
    await one.enqueue_batch([req(new_run(f"a{i}")) for i in range(50)])
    await two.enqueue_batch([req(new_run("b0"))])
    await one.enqueue_batch([req(new_run("c0", key="key-a0"))])  # deduplicated: no NOTIFY
    notes = await anyio.to_thread.run_sync(lambda: list(admin.notifies(timeout=0.5)))
    assert [n.payload for n in notes] == [one.notice.node, two.notice.node]


async def test_a_second_node_starts_the_producers_runs_promptly(
    node_factory: Callable[..., Any],
) -> None:
    """A producer node (listening, claiming nothing) submits; a worker node whose poll interval
    is 30 s starts every run within a second of its commit: woken by NOTIFY, not by polling."""
    producer_store: PostgresStore = await node_factory()
    worker_store: PostgresStore = await node_factory()
    started: dict[int, float] = {}
    done = anyio.Event()
    count = 10

    async def ping(params: dict[str, Any], ctx: RunContext) -> None:
        started[params["i"]] = time.monotonic()
        if len(started) == count:
            done.set()

    graphs = [Graph(graph_id="ping", fn=ping)]
    settings = SchedulerSettings(poll_interval=30.0, shutdown_grace=1)
    producer = Scheduler(producer_store, graphs, settings=settings, claim_graphs=[])
    worker = Scheduler(worker_store, graphs, settings=settings)
    committed: dict[int, float] = {}
    with anyio.fail_after(20):
        async with worker, producer:
            await anyio.sleep(0.2)  # the worker's first claim pass is over: it waits now
            for i in range(count):
                await producer.submit("ping", {"i": i})
                committed[i] = time.monotonic()
                await anyio.sleep(0.05)
            await done.wait()
    lags = sorted(started[i] - committed[i] for i in range(count))
    assert lags[-1] < 1.0, lags
    assert _listener(producer_store).ignored >= count  # the producer dropped its own
    assert _listener(worker_store).ignored == 0
