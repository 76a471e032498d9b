"""Against the real local brokers, on asyncio and trio: N messages make N runs, each once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from stargraph import Graph, Runtime
from stargraph.hosting import HostOptions
from stargraph.scheduler import SchedulerSettings
from stargraph.serve.ops import _degraded
from stargraph.store.base import RunStatus
from stargraph.triggers.queue import QueueSpec, QueueTrigger

from .brokers import URLS, body

GRAPH = "on_message"


def spec(broker: Any, **overrides: Any) -> QueueSpec:
    values: dict[str, Any] = {
        "trigger_id": f"queue:{broker.source}",
        "kind": broker.kind,
        "url": URLS[broker.kind],
        "source": broker.source,
        "graph_id": GRAPH,
        "max_in_flight": 64,
        "redeliver_seconds": 2,  # JetStream: a pull request of a closed connection keeps its
        **overrides,  # message until ack_wait, e.g. across a pause
    }
    return QueueSpec(**values)


class Recorder:
    def __init__(self) -> None:
        self.params: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any], ctx: Any) -> None:
        self.params.append(params)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:
    with anyio.fail_after(timeout):
        while not await check():
            await anyio.sleep(0.05)


async def succeeded(rt: Runtime) -> int:
    return (await rt.store.count_by_status()).get(RunStatus.succeeded, 0)


def runtime(url: str, rec: Recorder, *specs: QueueSpec, **options: Any) -> Runtime:
    graphs = [Graph(graph_id=GRAPH, fn=rec)]
    return Runtime(url, graphs=graphs, deps={"queue_specs": list(specs)}, **options)


async def connected(rt: Runtime) -> Runtime:
    """Wait until every queue trigger is connected (MQTT drops what is published before)."""

    async def check() -> bool:
        infos = [i for p in _queue_plugins(rt) for i in await p.describe()]
        return bool(infos) and all(i.details["connected"] for i in infos)

    await until(check)
    return rt


async def test_n_messages_make_n_runs_and_nothing_stays_unacked(
    broker: Any, sqlite_url: str
) -> None:
    rec, n = Recorder(), 300
    async with runtime(sqlite_url, rec, spec(broker)) as rt:
        await connected(rt)
        broker.publish_many([body(i=i) for i in range(n)])
        await until(lambda: _ge(succeeded(rt), n))
        await settled(rt, broker)
        page = await rt.scheduler.list_runs(limit=1)
        assert page.items[0].trigger_source == "queue"
        assert page.items[0].trigger_id == f"queue:{broker.source}"
    assert broker.unacked() == 0  # also what the consumer held unacked when it disconnected
    assert sorted(p["i"] for p in rec.params) == list(range(n))


async def test_same_message_id_twice_is_one_run(broker: Any, sqlite_url: str) -> None:
    rec = Recorder()
    async with runtime(sqlite_url, rec, spec(broker)) as rt:
        await connected(rt)
        broker.publish(body(n=1), message_id="order-1")
        broker.publish(body(n=2), message_id="order-1")
        broker.publish(body(n=3), message_id="order-2")
        await until(lambda: _ge(succeeded(rt), 2))
        await settled(rt, broker)
        counts = await rt.store.count_by_status()
    assert broker.unacked() == 0
    assert sum(counts.values()) == 2
    assert sorted(p["n"] for p in rec.params) == [1, 3]


async def test_poison_is_dead_lettered_and_the_server_keeps_consuming(
    broker: Any, sqlite_url: str
) -> None:
    rec = Recorder()
    qspec = spec(broker, dead_letter=broker.dead, max_body_bytes=100)
    async with runtime(sqlite_url, rec, qspec) as rt:
        await connected(rt)
        broker.publish(b"not json {")
        broker.publish(b"[1, 2]")
        broker.publish(body(pad="x" * 200))
        broker.publish(body(ok=True))
        await until(lambda: _ge(succeeded(rt), 1))
        await settled(rt, broker)
        text = rt.metrics.render().decode()
    assert broker.unacked() == 0
    assert rec.params == [{"ok": True}]
    assert sorted(d["reason"] for d in broker.dead_letters()) == [
        "not_json",
        "not_object",
        "too_big",
    ]
    tid = qspec.trigger_id
    assert (
        f'stargraph_queue_messages_total{{outcome="dead_lettered",trigger_id="{tid}"}} 3.0' in text
    )
    assert f'stargraph_queue_messages_total{{outcome="enqueued",trigger_id="{tid}"}} 1.0' in text


async def test_poison_without_dead_letter_is_rejected_and_acked(
    broker: Any, sqlite_url: str
) -> None:
    rec = Recorder()
    async with runtime(sqlite_url, rec, spec(broker, params="envelope")) as rt:
        await connected(rt)
        broker.publish(b"\xff\xfe")
        broker.publish(b'"a string is fine in an envelope"', message_id="m-1")
        await until(lambda: _ge(succeeded(rt), 1))
        await settled(rt, broker)
        text = rt.metrics.render().decode()
    assert rec.params[0]["body"] == "a string is fine in an envelope"
    assert rec.params[0]["id"] == "m-1"
    assert rec.params[0]["source"] == broker.source
    assert 'outcome="rejected"' in text


async def test_pause_stops_consuming_and_resume_starts_again(broker: Any, sqlite_url: str) -> None:
    rec = Recorder()
    qspec = spec(broker)
    async with runtime(sqlite_url, rec, qspec) as rt:
        await connected(rt)
        plugin = next(
            obj
            for _n, obj in rt.host.triggers()
            if qspec.trigger_id in getattr(obj, "trigger_ids", lambda: [])()
        )
        await until(lambda: _connected(plugin, qspec.trigger_id, True))
        info = await plugin.pause(qspec.trigger_id)
        assert info.paused
        await until(lambda: _connected(plugin, qspec.trigger_id, False))
        broker.publish(body(k=1))
        await anyio.sleep(0.5)
        assert rec.params == []
        await plugin.resume(qspec.trigger_id)
        await until(lambda: _ge(succeeded(rt), 1))
        [info] = await plugin.describe()
        assert info.kind == broker.kind and info.details["source"] == broker.source
        assert info.details["connected"] is True and info.last_fire is not None
    assert rec.params == [{"k": 1}]


def _queue_plugins(rt: Runtime) -> list[QueueTrigger]:
    return [p for _n, p in rt.host.triggers() if isinstance(p, QueueTrigger)]


async def _ge(value: Awaitable[int], n: int) -> bool:
    return await value >= n


async def _eq_sync(fn: Callable[[], int], n: int) -> bool:
    return await anyio.to_thread.run_sync(fn) == n


async def settled(rt: Runtime, broker: Any) -> None:
    """Wait until the broker has nothing left to deliver and the trigger holds nothing unacked."""

    async def check() -> bool:
        infos = [i for p in _queue_plugins(rt) for i in await p.describe()]
        return all(i.details["in_flight"] == 0 for i in infos) and await _eq_sync(broker.unacked, 0)

    await until(check)


async def _connected(plugin: Any, tid: str, want: bool) -> bool:
    infos = {i.trigger_id: i for i in await plugin.describe()}
    return bool(infos[tid].details["connected"]) is want


@pytest.mark.parametrize("broker", ["redis-stream"], indirect=True)
async def test_a_full_intake_slows_the_consumer_and_loses_nothing(
    broker: Any, sqlite_url: str
) -> None:
    rec, n = Recorder(), 200
    settings = SchedulerSettings(intake_capacity=4, batch_size=4)
    async with runtime(sqlite_url, rec, spec(broker), settings=settings) as rt:
        await connected(rt)
        broker.publish_many([body(i=i) for i in range(n)])
        await until(lambda: _ge(succeeded(rt), n), timeout=60)
        await settled(rt, broker)
        counts = await rt.store.count_by_status()
    assert sum(counts.values()) == n
    assert sorted(p["i"] for p in rec.params) == list(range(n))


async def test_a_broker_that_is_down_is_a_visible_retried_state(sqlite_url: str) -> None:
    down = QueueSpec(
        trigger_id="queue:down",
        kind="redis-stream",
        url="redis://127.0.0.1:1/0",
        source="s",
        graph_id=GRAPH,
    )
    options = HostOptions(backoff_initial=0.05, backoff_max=0.1, max_restarts=1000)
    async with runtime(sqlite_url, Recorder(), down, host_options=options) as rt:
        [plugin] = [p for p in _queue_plugins(rt) if p.trigger_ids()]
        name = next(n for n, p in rt.host.triggers() if p is plugin)

        async def restarted() -> bool:
            status = next(s for s in rt.host.statuses() if s.name == name)
            return status.restarts >= 2 and "ConnectionError" in (status.error or "")

        await until(restarted)
        [info] = await plugin.describe()
        assert info.details["connected"] is False and info.kind == "redis-stream"
        assert rt.ready

        async def degraded() -> bool:  # what /readyz adds to its 200 answer while restarting
            return bool(_degraded(rt))

        await until(degraded)
        [why] = _degraded(rt)
        assert why["plugin"] == name and "ConnectionError" in why["error"]
