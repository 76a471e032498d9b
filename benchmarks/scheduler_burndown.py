"""Burn-down: how fast the Scheduler drains a backlog of no-op runs on SQLite.

Run: ``.venv/bin/python benchmarks/scheduler_burndown.py [--runs 20000] [--repeat 3]
[--backend asyncio|trio|both] [--concurrency 16,64]``.

20,000 pending runs are inserted first (not timed). Then a Scheduler starts with an async no-op
graph and the clock runs until the store counts every run ``succeeded``. Goal: >= 5,000 runs/s.

Baseline, same run, same file layout: plain ``sqlite3`` without an event loop doing the store's
minimum work per batch of *concurrency* runs -- one ``BEGIN IMMEDIATE`` that selects and leases
the batch, one that marks it succeeded -- with nothing executed in between.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from stargraph.scheduler import Graph, RunContext, Scheduler, SchedulerSettings
from stargraph.store import EnqueueRequest, NewRun, RunStatus, open_store


async def _noop(params: dict[str, Any], ctx: RunContext) -> None:
    return None


async def preload(url: str, count: int) -> None:
    store = open_store(url)
    await store.open()
    now = datetime.now(UTC)
    try:
        for base in range(0, count, 1000):
            await store.enqueue_batch([
                EnqueueRequest(run=NewRun(
                    run_id=uuid.uuid4().hex, graph_id="noop", idempotency_key=uuid.uuid4().hex,
                    params={"i": i}, enqueued_at=now, not_before=now,
                ))
                for i in range(base, min(count, base + 1000))
            ])  # fmt: skip
    finally:
        await store.close()


async def burn(url: str, count: int, concurrency: int) -> float:
    store = open_store(url)
    await store.open()
    settings = SchedulerSettings(max_concurrent_runs=concurrency, poll_interval=0.5)
    try:
        start = time.perf_counter()
        async with Scheduler(store, [Graph(graph_id="noop", fn=_noop)], settings=settings):
            while (await store.count_by_status()).get(RunStatus.succeeded, 0) < count:
                await anyio.sleep(0.01)
            elapsed = time.perf_counter() - start
    finally:
        await store.close()
    return count / elapsed


def raw_burn(path: Path, count: int, batch: int) -> float:
    """Runs/s of the bare SQL work: lease a batch, then mark it succeeded, per transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    done = 0
    start = time.perf_counter()
    while done < count:
        now = time.time_ns() // 1000
        conn.execute("BEGIN IMMEDIATE")
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT run_id FROM runs WHERE status = 'pending' AND not_before <= ? "
                "ORDER BY not_before, enqueued_at, run_id LIMIT ?",
                (now, batch),
            )
        ]
        marks = ", ".join("?" * len(ids))
        conn.execute(
            f"UPDATE runs SET status = 'running', started_at = ?, lease_owner = 'raw', "
            f"lease_expires_at = ? WHERE run_id IN ({marks})",
            (now, now + 30, *ids),
        )
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            f"UPDATE runs SET status = 'succeeded', finished_at = ?, lease_owner = NULL, "
            f"lease_expires_at = NULL WHERE run_id IN ({marks})",
            (now, *ids),
        )
        conn.execute("COMMIT")
        done += len(ids)
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def measure(backend: str, count: int, repeat: int, concurrency: int) -> dict[str, float]:
    """Medians of runs/s (wall clock) and runs per CPU-second (this process, all threads)."""
    figures: dict[str, list[float]] = {"ours": [], "raw": [], "ours_cpu": [], "raw_cpu": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("raw.db", "ours.db"):
                anyio.run(preload, f"sqlite:///{Path(tmp) / name}", count, backend=backend)
            cpu = time.process_time()
            figures["raw"].append(raw_burn(Path(tmp) / "raw.db", count, concurrency))
            figures["raw_cpu"].append(count / (time.process_time() - cpu))
            cpu = time.process_time()
            figures["ours"].append(
                anyio.run(
                    burn, f"sqlite:///{Path(tmp) / 'ours.db'}", count, concurrency, backend=backend
                )
            )
            figures["ours_cpu"].append(count / (time.process_time() - cpu))
    return {name: statistics.median(values) for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", default="both", choices=["asyncio", "trio", "both"])
    parser.add_argument("--concurrency", default="16,64")
    args = parser.parse_args()
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    print(f"burn-down of {args.runs} no-op runs, median of {args.repeat} (SQLite WAL, FULL)")
    for backend in backends:
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            m = measure(backend, args.runs, args.repeat, concurrency)
            ours, raw = m["ours"], m["raw"]
            print(
                f"{backend:8} max_concurrent_runs={concurrency:<4} scheduler {ours:7,.0f} runs/s"
                f" ({m['ours_cpu']:7,.0f} per CPU-s) | raw SQL floor {raw:7,.0f} runs/s"
                f" ({m['raw_cpu']:7,.0f} per CPU-s) | {ours / raw:.0%} of raw"
                f" | goal 5,000: {'met' if ours >= 5000 else 'NOT met'}"
            )


if __name__ == "__main__":
    main()
