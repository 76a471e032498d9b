"""Burn-down throughput on PostgreSQL: one and two worker processes draining a backlog.

Run: ``.venv/bin/python benchmarks/pg_burndown.py [--runs 10000] [--repeat 3]
[--backend asyncio|trio|both]``.

A backlog of ``--runs`` pending no-op runs is enqueued first; then worker *processes*, each a
:class:`Scheduler` (``max_concurrent_runs=64``) on its own ``PostgresStore``, start together
and drain it. The figure is runs/s from the go signal until every run is ``succeeded``,
median of ``--repeat`` fresh databases. The baseline is plain psycopg in one process and one
connection, no Stargraph: claim 64 with ``FOR UPDATE SKIP LOCKED``, then mark them succeeded,
each step its own transaction.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import anyio
import psycopg
from pg_common import fresh_db, median

from stargraph.scheduler import Graph, RunContext, Scheduler, SchedulerSettings
from stargraph.store import EnqueueRequest, NewRun
from stargraph.store.postgres import PostgresStore

BATCH = 64


async def noop(params: dict[str, Any], ctx: RunContext) -> None:
    return None


async def worker(url: str) -> None:
    """A worker process: open, say ready, wait for "go" on stdin, then run until killed."""
    store = PostgresStore(url)
    await store.open()
    settings = SchedulerSettings(max_concurrent_runs=BATCH, shutdown_grace=1)
    print("ready", flush=True)
    await anyio.to_thread.run_sync(sys.stdin.readline)
    try:
        async with Scheduler(store, [Graph(graph_id="noop", fn=noop)], settings=settings):
            await anyio.sleep_forever()
    finally:
        await store.close()


async def backlog(url: str, count: int) -> None:
    store = PostgresStore(url)
    await store.open()
    try:
        for base in range(0, count, 500):
            now = datetime.now(UTC)
            await store.enqueue_batch([
                EnqueueRequest(run=NewRun(
                    run_id=uuid.uuid4().hex, graph_id="noop", idempotency_key=f"k{i}",
                    params={"i": i}, enqueued_at=now, not_before=now,
                ))
                for i in range(base, min(count, base + 500))
            ])  # fmt: skip
    finally:
        await store.close()


def _done(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM runs WHERE status = 'succeeded'").fetchone()
    return int(row[0]) if row else 0


def processes(url: str, count: int, workers: int, backend: str) -> float:
    anyio.run(backlog, url, count, backend=backend)
    procs = [
        subprocess.Popen([sys.executable, __file__, "--worker", url, "--backend", backend],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(workers)
    ]  # fmt: skip
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        with psycopg.connect(url, autocommit=True) as conn:
            start = time.perf_counter()
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            while _done(conn) < count:
                time.sleep(0.02)
            return count / (time.perf_counter() - start)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


def raw(url: str, count: int, backend: str) -> float:
    anyio.run(backlog, url, count, backend=backend)
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        done = 0
        while done < count:
            ids = [row[0] for row in conn.execute(
                "UPDATE runs SET status = 'running', lease_owner = 'raw', started_at = now() "
                "WHERE run_id IN (SELECT run_id FROM runs WHERE status = 'pending' "
                "ORDER BY not_before, enqueued_at, run_id LIMIT %s FOR UPDATE SKIP LOCKED) "
                "RETURNING run_id", (BATCH,)).fetchall()]  # fmt: skip
            conn.execute(
                "UPDATE runs SET status = 'succeeded', finished_at = now(), lease_owner = NULL "
                "WHERE run_id = ANY(%s)", (ids,))  # fmt: skip
            done += len(ids)
        return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", default="both", choices=["asyncio", "trio", "both"])
    parser.add_argument("--worker", metavar="URL")
    args = parser.parse_args()
    if args.worker:
        anyio.run(worker, args.worker, backend=args.backend)
        return
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    print(f"burn-down of {args.runs} no-op runs, runs/s, median of {args.repeat}")
    for backend in backends:
        figures: dict[str, list[float]] = {"raw": [], "one": [], "two": []}
        for _ in range(args.repeat):
            with fresh_db() as url:
                figures["raw"].append(raw(url, args.runs, backend))
            with fresh_db() as url:
                figures["one"].append(processes(url, args.runs, 1, backend))
            with fresh_db() as url:
                figures["two"].append(processes(url, args.runs, 2, backend))
        m = {k: median(v) for k, v in figures.items()}
        print(
            f"{backend:8} raw psycopg {m['raw']:7,.0f}/s | 1 worker process {m['one']:7,.0f}/s "
            f"({m['one'] / m['raw']:.0%} of raw) | 2 worker processes {m['two']:7,.0f}/s "
            f"({m['two'] / m['one']:.2f}x one)"
        )


if __name__ == "__main__":
    main()
