"""Enqueue-to-start latency of the Scheduler on SQLite: p50 and p99.

Run: ``.venv/bin/python benchmarks/scheduler_latency.py [--samples 300] [--repeat 3]
[--backend asyncio|trio|both]``.

One run at a time on an idle scheduler: the clock starts just before ``scheduler.enqueue`` and
stops when the graph callable begins. That span holds the durable commit (WAL, FULL), the
dispatcher's claim (a second commit) and the task start. The same is measured under load.

Baseline, same run: the floor for one durable write through anyio -- a single-row
``INSERT`` + ``COMMIT`` on its own connection via ``anyio.to_thread.run_sync`` -- timed the same
way. The scheduler pays at least two such commits (enqueue, claim) before a run starts.
"Loaded" adds 20 producers at 25 runs/s each (500 runs/s, below the burn-down capacity, so no
backlog builds up).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from stargraph.scheduler import Graph, RunContext, Scheduler, SchedulerSettings
from stargraph.store import open_store


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def raw_commit(path: Path, samples: int) -> list[float]:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
    limiter = anyio.CapacityLimiter(1)

    def write(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?, ?)", (f"k{i}", "{}"))
        conn.execute("COMMIT")

    out = []
    for i in range(samples):
        start = time.perf_counter()
        await anyio.to_thread.run_sync(write, i, limiter=limiter)
        out.append(time.perf_counter() - start)
    conn.close()
    return out


async def latencies(path: Path, samples: int, background: int) -> list[float]:
    started: dict[str, float] = {}
    ready = anyio.Event()

    async def probe(params: dict[str, Any], ctx: RunContext) -> None:
        started[ctx.idempotency_key] = time.perf_counter()
        if params.get("probe"):
            ready.set()

    store = open_store(f"sqlite:///{path}")
    await store.open()
    out: list[float] = []
    settings = SchedulerSettings(max_concurrent_runs=32, poll_interval=1.0)
    try:
        async with Scheduler(store, [Graph(graph_id="probe", fn=probe)], settings=settings) as s:

            async def load() -> None:
                while True:  # 25 runs/s per producer: busy, but below capacity
                    await s.enqueue("probe", {})
                    await anyio.sleep(0.04)

            async with anyio.create_task_group() as tg:
                for _ in range(background):
                    tg.start_soon(load)
                for i in range(samples):
                    ready = anyio.Event()
                    t0 = time.perf_counter()
                    s.enqueue("probe", {"probe": True}, f"probe-{i}")
                    await ready.wait()
                    out.append(started[f"probe-{i}"] - t0)
                tg.cancel_scope.cancel()
    finally:
        await store.close()
    return out


def measure(backend: str, samples: int, repeat: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"raw": [], "idle": [], "loaded": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            figures["raw"] += anyio.run(raw_commit, Path(tmp) / "raw.db", samples, backend=backend)
            figures["idle"] += anyio.run(
                latencies, Path(tmp) / "idle.db", samples, 0, backend=backend
            )
            figures["loaded"] += anyio.run(
                latencies, Path(tmp) / "load.db", samples, 20, backend=backend
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", default="both", choices=["asyncio", "trio", "both"])
    args = parser.parse_args()
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    print(f"enqueue -> start latency, {args.samples} samples x {args.repeat} (SQLite WAL, FULL)")
    for backend in backends:
        f = measure(backend, args.samples, args.repeat)
        raw50 = statistics.median(f["raw"])
        for name in ("raw", "idle", "loaded"):
            label = {
                "raw": "raw 1-row commit",
                "idle": "scheduler idle",
                "loaded": "scheduler, 500 runs/s load",
            }[name]
            p50, p99 = _pct(f[name], 0.5), _pct(f[name], 0.99)
            print(
                f"{backend:8} {label:26} p50 {p50 * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms"
                f"  (p50 = {p50 / raw50:4.1f}x raw commit)"
            )


if __name__ == "__main__":
    main()
