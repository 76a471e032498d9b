"""Durable enqueue throughput of the Scheduler against raw sqlite3 batched inserts.

Run: ``.venv/bin/python benchmarks/scheduler_enqueue.py [--runs 20000] [--repeat 5]
[--backend asyncio|trio|both]``.

Three figures per backend, medians of ``--repeat`` fresh databases (WAL, synchronous=FULL, the
store's default):

- ``raw``: the baseline -- plain ``sqlite3`` ``executemany`` of the same rows (params JSON
  encoded inside the timed loop) into the same ``runs`` table, 500 rows per
  ``BEGIN IMMEDIATE`` transaction, no event loop, no thread hop;
- ``stream``: one producer calls ``scheduler.enqueue`` for every run, yielding to the loop every
  500 calls, then awaits every receipt: time from the first call to the last durable ack;
- ``acked``: 50 producers, each awaiting its own receipt before its next enqueue (the shape of
  concurrent webhook deliveries): acknowledged enqueues per second.

The graph blocks and ``max_concurrent_runs=1``, so after one claim the dispatcher stays idle
and the figures measure intake, validation, group commit and receipts only.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import anyio
from enqueue_load import BATCH, acked, stream

from stargraph._json import dumps
from stargraph.store.sqlite.schema import migrate


def raw_insert(path: Path, count: int) -> float:
    """Rows/s of plain sqlite3 executemany, 500 rows per transaction, same table and pragmas."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    migrate(conn, str(path))
    sql = (
        "INSERT INTO runs (run_id, graph_id, idempotency_key, status, params, trigger_id, "
        "trigger_source, scheduled_fire, enqueued_at, not_before, attempt, max_attempts) "
        "VALUES (?, ?, ?, 'pending', ?, NULL, 'manual', NULL, ?, ?, 1, 1) "
        "ON CONFLICT (graph_id, idempotency_key) DO NOTHING"
    )
    now_us = time.time_ns() // 1000
    start = time.perf_counter()
    for base in range(0, count, BATCH):
        rows = [
            (uuid.uuid4().hex, "noop", uuid.uuid4().hex, dumps({"i": i}), now_us, now_us)
            for i in range(base, min(count, base + BATCH))
        ]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def measure(backend: str, count: int, repeat: int) -> dict[str, float]:
    figures: dict[str, list[float]] = {"raw": [], "stream": [], "acked": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            figures["raw"].append(raw_insert(Path(tmp) / "raw.db", count))
            figures["stream"].append(
                anyio.run(stream, f"sqlite:///{Path(tmp) / 's.db'}", count, backend=backend)
            )
            figures["acked"].append(
                anyio.run(acked, f"sqlite:///{Path(tmp) / 'a.db'}", count, backend=backend)
            )
    return {name: statistics.median(values) for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", default="both", choices=["asyncio", "trio", "both"])
    args = parser.parse_args()
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    print(f"durable enqueue, {args.runs} runs, median of {args.repeat} (SQLite WAL, FULL)")
    for backend in backends:
        m = measure(backend, args.runs, args.repeat)
        print(
            f"{backend:8} raw sqlite3 {m['raw']:9,.0f}/s | scheduler stream {m['stream']:9,.0f}/s"
            f" ({m['stream'] / m['raw']:.0%} of raw) | 50 producers acked {m['acked']:9,.0f}/s"
            f" ({m['acked'] / m['raw']:.0%} of raw)"
        )


if __name__ == "__main__":
    main()
