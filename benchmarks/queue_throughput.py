"""Queue triggers: messages/s from broker to durable run, against a bare consumer that only acks.

For each broker (Redis Streams, RabbitMQ, MQTT) and backend (asyncio, trio), on a SQLite store:

* ``bare``: the same broker client and worker-thread driving, fetch + ack only;
* ``stargraph``: the queue trigger in a Runtime (fetch, enqueue, await the commit, ack);
* latency: ``--latency`` messages (400) published at 200/s carry their publish time; the graph
  records publish -> run start; p50 and p99 are printed.

Run: ``.venv/bin/python benchmarks/queue_throughput.py [--n 5000] [--latency 400]
[--kinds redis-stream,amqp]``.
Needs the local brokers (see .ci/run's ensure_brokers) and ``pip install -e '.[queues]'``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "queues"))

from brokers import BROKERS, URLS

from stargraph import Graph, Runtime
from stargraph.store.base import RunStatus
from stargraph.triggers.queue import QueueSpec, QueueTrigger

#: Mosquitto's default ``max_queued_messages`` (1000) drops QoS 1 messages queued beyond it for
#: a session; the benchmark publishes before consuming, so MQTT runs stay under it.
MQTT_MAX = 900
MAX_IN_FLIGHT = 4096  # what a high-rate source would set: bigger group commits
MODULES = {
    "redis-stream": "stargraph.triggers.queue.redis_stream",
    "amqp": "stargraph.triggers.queue.amqp",
    "mqtt": "stargraph.triggers.queue.mqtt",
    "nats-jetstream": "stargraph.triggers.queue.nats",
}
#: MQTT pushes messages into the client while they are published, so its clock starts before
#: the publish in both modes (else "bare" would only drain a local buffer).
PUSHED = {"mqtt"}


def _spec(kind: str, source: str) -> QueueSpec:
    return QueueSpec(
        trigger_id=f"bench:{source}",
        kind=kind,
        url=URLS[kind],
        source=source,
        graph_id="g",
        group=f"g{uuid.uuid4().hex[:6]}",
        max_in_flight=MAX_IN_FLIGHT,
    )


async def _fresh(kind: str) -> tuple[Any, QueueSpec]:
    """A broker helper on a new source, and a spec that consumes it.

    For MQTT the spec's persistent session and its subscription are made first: the broker
    drops a message no subscription matches, and the trigger's client counts as connected at
    CONNACK, before its SUBACK, so a publish right after could be lost (``bare`` then waited
    forever). The trigger's client resumes that session (``clean_start=False``).
    """
    broker = BROKERS[kind]()
    spec = _spec(kind, broker.source)
    if kind == "mqtt":
        await anyio.to_thread.run_sync(_mqtt_session, spec)
    return broker, spec


def _mqtt_session(spec: QueueSpec) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from stargraph.triggers.queue.mqtt import SESSION_EXPIRY, client_id

    subscribed = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id(spec),
                    protocol=mqtt.MQTTv5)  # fmt: skip
    c.on_subscribe = lambda *_: subscribed.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_EXPIRY
    url = urlsplit(spec.url)
    c.connect(
        url.hostname or "127.0.0.1", url.port or 1883, 30, clean_start=False, properties=props
    )
    c.loop_start()
    try:
        c.subscribe(spec.source, qos=1)
        if not subscribed.wait(10):
            raise SystemExit(f"MQTT: no SUBACK for {spec.source} within 10 s")
    finally:
        c.disconnect()
        c.loop_stop()


async def bare(kind: str, n: int) -> float:
    """Fetch and ack *n* messages with the trigger's own client, nothing else."""
    broker, spec = await _fresh(kind)
    client = importlib.import_module(MODULES[kind]).make_client(spec)
    limiter = anyio.CapacityLimiter(1)
    await anyio.to_thread.run_sync(client.connect, limiter=limiter)
    began = time.perf_counter()
    broker.publish_many([json.dumps({"i": i}).encode() for i in range(n)])
    began = began if kind in PUSHED else time.perf_counter()
    got = 0
    while got < n:
        batch = await anyio.to_thread.run_sync(client.fetch, 512, 0.2, limiter=limiter)
        await anyio.to_thread.run_sync(client.ack, [d.token for d in batch], limiter=limiter)
        got += len(batch)
    rate = n / (time.perf_counter() - began)
    await anyio.to_thread.run_sync(client.close, limiter=limiter)
    broker.close()
    return rate


async def _until(check: Any, timeout: float = 120) -> None:
    with anyio.fail_after(timeout):
        while not await check():
            await anyio.sleep(0.01)


async def _connected(rt: Runtime) -> bool:
    infos = [
        i for _n, p in rt.host.triggers() if isinstance(p, QueueTrigger) for i in await p.describe()
    ]
    return bool(infos) and all(i.details["connected"] for i in infos)


async def durable(kind: str, n: int) -> float:
    """Messages/s through the queue trigger until *n* runs are committed."""
    broker, spec = await _fresh(kind)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        graph = Graph(graph_id="g", fn=lambda params, ctx: None)
        async with Runtime(url, graphs=[graph], deps={"queue_specs": [spec]}) as rt:
            await _until(lambda: _connected(rt))
            began = time.perf_counter()
            broker.publish_many([json.dumps({"i": i}).encode() for i in range(n)])
            began = began if kind in PUSHED else time.perf_counter()

            labels = {"trigger_id": spec.trigger_id, "outcome": "enqueued"}

            async def done() -> bool:  # the trigger's own counter: no store query in the way
                value = rt.metrics.registry.get_sample_value(
                    "stargraph_queue_messages_total", labels
                )
                return (value or 0) >= n

            await _until(done)
            rate = n / (time.perf_counter() - began)
    broker.close()
    return rate


async def latency(kind: str, n: int, rate: float) -> tuple[float, float]:
    """Publish *n* messages at *rate*/s; return p50 and p99 publish -> run start (ms)."""
    broker, spec = await _fresh(kind)
    lags: list[float] = []

    def record(params: dict[str, Any], ctx: Any) -> None:
        lags.append(time.time() - params["t"])

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        async with Runtime(
            url, graphs=[Graph(graph_id="g", fn=record)], deps={"queue_specs": [spec]}
        ) as rt:
            await _until(lambda: _connected(rt))
            for _ in range(n):
                await anyio.to_thread.run_sync(
                    broker.publish, json.dumps({"t": time.time()}).encode()
                )
                await anyio.sleep(1 / rate)

            async def done() -> bool:
                return (await rt.store.count_by_status()).get(RunStatus.succeeded, 0) >= n

            await _until(done)
    broker.close()
    q = statistics.quantiles(lags, n=100)
    return q[49] * 1000, q[98] * 1000


async def direct(n: int) -> float:
    """The store's ceiling: *n* runs enqueued straight into the same Runtime (no broker)."""
    with tempfile.TemporaryDirectory() as tmp:
        graph = Graph(graph_id="g", fn=lambda params, ctx: None)
        async with Runtime(f"sqlite:///{tmp}/bench.db", graphs=[graph]) as rt:
            began = time.perf_counter()
            receipts = [rt.scheduler.enqueue("g", {"i": i}, f"k{i}") for i in range(n)]
            for receipt in receipts:
                await receipt
            return n / (time.perf_counter() - began)


async def measure(kind: str, n: int, repeat: int, messages: int = 400) -> None:
    n = min(n, MQTT_MAX) if kind == "mqtt" else n
    bares = [await bare(kind, n) for _ in range(repeat)]
    fulls = [await durable(kind, n) for _ in range(repeat)]
    b, f = statistics.median(bares), statistics.median(fulls)
    p50, p99 = await latency(kind, messages, 200)
    print(
        f"  {kind:13} bare {b:8,.0f}/s  durable {f:8,.0f}/s  ratio {f / b:5.0%}  "
        f"latency p50 {p50:6.1f} ms  p99 {p99:6.1f} ms",
        flush=True,
    )


async def _directs(n: int, repeat: int) -> list[float]:
    return [await direct(n) for _ in range(repeat)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency", type=int, default=400, help="messages timed for latency")
    parser.add_argument("--kinds", default=",".join(MODULES))
    parser.add_argument("--backends", default="asyncio,trio")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        rate = statistics.median(anyio.run(_directs, args.n, args.repeat, backend=backend))
        print(f"{backend}: scheduler.enqueue straight into the runtime {rate:,.0f}/s", flush=True)
        for kind in args.kinds.split(","):
            anyio.run(measure, kind, args.n, args.repeat, args.latency, backend=backend)


if __name__ == "__main__":
    main()
