"""Delayed runs: start lateness (p50/p99) on an idle node, and claim latency with 1M future runs.

    python benchmarks/delayed_runs.py lateness [N]      # N delayed runs, 0.2-1.2 s ahead
    python benchmarks/delayed_runs.py claim [FUTURE]    # claim latency, FUTURE pending future runs

SQLite file in a temp folder; results as JSON on stdout.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from stargraph.scheduler import Graph, RunContext, Scheduler
from stargraph.store import open_store

START: dict[str, float] = {}


async def _record(params: dict[str, Any], ctx: RunContext) -> None:
    START[ctx.run_id] = time.time()


async def lateness(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'b.db'}")
        await store.open()
        due: dict[str, float] = {}
        async with Scheduler(store, [Graph(graph_id="g", fn=_record)]) as scheduler:
            base = datetime.now(UTC) + timedelta(seconds=2)  # every enqueue commits before
            receipts = []
            for k in range(n):
                when = base + timedelta(seconds=k * 0.1)  # 10 per second: an idle node
                receipts.append((scheduler.enqueue("g", {}, not_before=when), when))
            for receipt, when in receipts:
                due[(await receipt).run_id] = when.timestamp()
            with anyio.fail_after(60):
                while len(START) < n:
                    await anyio.sleep(0.05)
        await store.close()
    late = sorted((START[r] - due[r]) * 1000 for r in due)
    return {
        "runs": n,
        "late_ms_p50": round(statistics.median(late), 2),
        "late_ms_p99": round(late[int(0.99 * (n - 1))], 2),
        "late_ms_max": round(late[-1], 2),
        "early": sum(x < 0 for x in late),
    }


def _fill(path: Path, future: int) -> None:
    far = int((time.time() + 86400 * 365) * 1e6)
    with sqlite3.connect(path) as conn:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO runs (run_id, graph_id, idempotency_key, status, params, trigger_source, "
            "enqueued_at, not_before) VALUES (?, 'g', ?, 'pending', '{}', 'manual', 0, ?)",
            ((f"f{i}", f"k{i}", far + i) for i in range(future)),
        )
        conn.execute("UPDATE run_counts SET n = n + ? WHERE status = 'pending'", (future,))
        conn.execute("COMMIT")


async def claim(future: int, rounds: int = 200) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "b.db"
        store = open_store(f"sqlite:///{path}")
        await store.open()
        await store.close()
        _fill(path, future)
        with sqlite3.connect(path) as conn:
            plan = conn.execute(
                "EXPLAIN QUERY PLAN SELECT run_id, graph_id, not_before, enqueued_at FROM runs "
                "INDEXED BY runs_due WHERE status = 'pending' AND not_before <= ? "
                "ORDER BY not_before, enqueued_at, run_id LIMIT 10",
                (0,),
            ).fetchall()
        store = open_store(f"sqlite:///{path}")
        await store.open()
        async with Scheduler(store, [Graph(graph_id="g", fn=_record)]) as scheduler:
            took = []
            for _ in range(rounds):
                await scheduler.submit("g", {})  # one due run (the scheduler also claims it)
                now = datetime.now(UTC)
                t = time.perf_counter()
                await store.claim(owner="bench", limit=10, now=now, lease_seconds=30,
                                  graph_limits={})  # fmt: skip
                took.append((time.perf_counter() - t) * 1000)
        await store.close()
    took.sort()
    return {
        "future_runs": future,
        "claim_ms_p50": round(statistics.median(took), 3),
        "claim_ms_p99": round(took[int(0.99 * (rounds - 1))], 3),
        "plan": [row[-1] for row in plan],
    }


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "lateness"
    arg = int(sys.argv[2]) if len(sys.argv) > 2 else None
    if mode == "lateness":
        print(json.dumps(anyio.run(lateness, arg or 200)))
    else:
        print(json.dumps(anyio.run(claim, 1_000_000 if arg is None else arg)))


if __name__ == "__main__":
    main()
