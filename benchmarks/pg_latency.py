"""Enqueue -> start latency across two processes on PostgreSQL (LISTEN/NOTIFY vs polling).

Run: ``.venv/bin/python benchmarks/pg_latency.py [--runs 200] [--repeat 3] [--gap 0.02]
[--backend asyncio|trio|both]``.

A worker *process* runs a :class:`Scheduler` (``poll_interval=1.0``) with a graph that records
``time.time() - params["t"]``. This process enqueues runs one at a time through its own
``PostgresStore.enqueue_batch`` (another node), ``params={"t": time.time()}`` taken just before
the enqueue, ``--gap`` seconds apart. Figures are p50/p99 in milliseconds, medians of
``--repeat`` fresh databases:

- ``raw``: the floor -- plain psycopg, no Stargraph: INSERT + ``pg_notify`` committed on one
  connection, received by a thread blocked in ``LISTEN`` on another (same process);
- ``notify``: the worker listens (the default); measured from the enqueue call, and from the
  moment the enqueue returned (the run is durable: what an HTTP client waits for);
- ``poll``: the worker's store URL has ``?listen=false``: it finds work by polling only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import anyio
import psycopg
from pg_common import fresh_db, median, percentile

from stargraph.scheduler import Graph, RunContext, Scheduler, SchedulerSettings
from stargraph.store import EnqueueRequest, NewRun
from stargraph.store.postgres import PostgresStore


async def worker(url: str, count: int) -> None:
    """The worker process: run *count* pings, then print their latencies (seconds) as JSON."""
    seen: dict[int, float] = {}
    done = anyio.Event()

    async def ping(params: dict[str, Any], ctx: RunContext) -> None:
        seen[params["i"]] = time.time()
        if len(seen) >= count:
            done.set()

    store = PostgresStore(url)
    await store.open()
    settings = SchedulerSettings(poll_interval=1.0, shutdown_grace=1)
    try:
        async with Scheduler(store, [Graph(graph_id="ping", fn=ping)], settings=settings):
            print("ready", flush=True)
            await done.wait()
    finally:
        await store.close()
    print(json.dumps(seen), flush=True)


async def enqueuer(url: str, count: int, gap: float) -> list[tuple[float, float]]:
    """Enqueue *count* pings; return (time of the call, time of the durable ack) of each."""
    store = PostgresStore(url)
    await store.open()
    times: list[tuple[float, float]] = []
    try:
        for i in range(count):
            now = datetime.now(UTC)
            run = NewRun(run_id=uuid.uuid4().hex, graph_id="ping", idempotency_key=uuid.uuid4().hex,
                         params={"i": i}, enqueued_at=now, not_before=now)  # fmt: skip
            called = time.time()
            await store.enqueue_batch([EnqueueRequest(run=run)])
            times.append((called, time.time()))
            await anyio.sleep(gap)
    finally:
        await store.close()
    return times


def two_processes(
    url: str, count: int, gap: float, backend: str
) -> tuple[list[float], list[float]]:
    """Start latencies in ms, measured from the enqueue call and from its durable ack."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", url, "--runs", str(count), "--backend", backend],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    times = anyio.run(enqueuer, url, count, gap, backend=backend)
    out, _ = proc.communicate(timeout=120)
    started = {int(i): t for i, t in json.loads(out).items()}
    from_call = [(started[i] - called) * 1000 for i, (called, _) in enumerate(times)]
    from_ack = [(started[i] - acked) * 1000 for i, (_, acked) in enumerate(times)]
    return from_call, from_ack


def raw(url: str, count: int, gap: float) -> list[float]:
    """Commit-to-receipt of INSERT + pg_notify between two plain psycopg connections."""
    sent: list[float] = []
    got: list[float] = []
    with (
        psycopg.connect(url, autocommit=True) as listen,
        psycopg.connect(url, autocommit=True) as c,
    ):
        c.execute("CREATE TABLE IF NOT EXISTS raw_ping (id text PRIMARY KEY)")
        listen.execute("LISTEN raw_ping")

        def receive() -> None:
            got.extend(time.time() for _ in listen.notifies(stop_after=count, timeout=60))

        thread = threading.Thread(target=receive)
        thread.start()
        time.sleep(0.1)
        for _ in range(count):
            sent.append(time.time())
            with c.transaction():
                c.execute("INSERT INTO raw_ping VALUES (%s)", (uuid.uuid4().hex,))
                c.execute("SELECT pg_notify('raw_ping', '')")
            time.sleep(gap)
        thread.join()
    return [(g - s) * 1000 for s, g in zip(sent, got, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gap", type=float, default=0.02)
    parser.add_argument("--backend", default="both", choices=["asyncio", "trio", "both"])
    parser.add_argument("--worker", metavar="URL")
    args = parser.parse_args()
    if args.worker:
        anyio.run(worker, args.worker, args.runs, backend=args.backend)
        return
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    print(f"enqueue -> start latency, {args.runs} runs {args.gap * 1000:.0f} ms apart, ms, "
          f"median of {args.repeat}")  # fmt: skip
    for backend in backends:
        cases: dict[str, list[tuple[float, float]]] = {
            k: [] for k in ("raw", "notify", "ack", "poll")
        }

        def add(case: str, lat: list[float], cases: dict[str, Any] = cases) -> None:
            cases[case].append((percentile(lat, 50), percentile(lat, 99)))

        for _ in range(args.repeat):
            with fresh_db() as url:
                add("raw", raw(url, args.runs, args.gap))
                from_call, from_ack = two_processes(url, args.runs, args.gap, backend)
                add("notify", from_call)
                add("ack", from_ack)
            with fresh_db() as url:
                n = max(20, args.runs // 10)
                add("poll", two_processes(url + "?listen=false", n, args.gap, backend)[0])
        m = {k: (median([p[0] for p in v]), median([p[1] for p in v])) for k, v in cases.items()}
        print(
            f"{backend:8} raw NOTIFY p50 {m['raw'][0]:.2f} p99 {m['raw'][1]:.2f} | "
            f"stargraph notify p50 {m['notify'][0]:.2f} p99 {m['notify'][1]:.2f} "
            f"({m['notify'][0] / m['raw'][0]:.1f}x raw; from the ack p50 {m['ack'][0]:.2f} "
            f"p99 {m['ack'][1]:.2f}) | "
            f"polling only p50 {m['poll'][0]:.1f} p99 {m['poll'][1]:.1f}"
        )


if __name__ == "__main__":
    main()
