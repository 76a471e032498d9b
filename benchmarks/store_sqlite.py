"""SQLite store micro-benchmarks: enqueue_batch against raw sqlite3, and claim+complete burn-down.

Run: ``.venv/bin/python benchmarks/store_sqlite.py [--runs 20000] [--repeat 3] [--backend trio]``.
Prints medians of ``--repeat`` runs: the wall-clock rate, and the rate the process's CPU time
alone would allow (``process_time``, worker threads included), which is steadier on a shared
machine. The baseline is a raw ``sqlite3`` ``executemany`` of the
same rows into the same ``runs`` table, 500 per ``BEGIN IMMEDIATE`` transaction, with the same
pragmas, in the same process, without the thread hop.
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

import anyio

from stargraph._json import dumps
from stargraph.store import Completion, EnqueueRequest, NewRun, RunStatus
from stargraph.store.sqlite import SQLiteStore
from stargraph.store.sqlite.schema import migrate

BATCH = 500


def _runs(count: int) -> list[NewRun]:
    now = datetime.now(UTC)
    return [
        NewRun(
            run_id=uuid.uuid4().hex, graph_id="noop", idempotency_key=uuid.uuid4().hex,
            params={"i": i}, enqueued_at=now, not_before=now,
        )
        for i in range(count)
    ]  # fmt: skip


Rates = tuple[float, float]  # (per wall-clock second, per CPU second)


def _rates(count: int, wall0: float, cpu0: float) -> Rates:
    return count / (time.perf_counter() - wall0), count / max(time.process_time() - cpu0, 1e-9)


def raw_insert(path: Path, runs: list[NewRun], synchronous: str) -> Rates:
    """Rows/s of plain sqlite3 executemany, 500 rows per transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    migrate(conn, str(path))
    sql = (
        "INSERT INTO runs (run_id, graph_id, idempotency_key, status, params, trigger_source, "
        "enqueued_at, not_before) VALUES (?, ?, ?, 'pending', ?, 'manual', ?, ?) "
        "ON CONFLICT (graph_id, idempotency_key) DO NOTHING"
    )
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(runs), BATCH):
        rows = [
            (r.run_id, r.graph_id, r.idempotency_key, dumps(r.params), 0, 0)
            for r in runs[i : i + BATCH]
        ]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    rates = _rates(len(runs), start, cpu)
    conn.close()
    return rates


async def store_enqueue(store: SQLiteStore, runs: list[NewRun]) -> Rates:
    """Rows/s of SQLiteStore.enqueue_batch, 500 runs per call."""
    requests = [EnqueueRequest(run=r) for r in runs]
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(requests), BATCH):
        await store.enqueue_batch(requests[i : i + BATCH])
    return _rates(len(runs), start, cpu)


async def burn_down(store: SQLiteStore, total: int, claim_size: int) -> Rates:
    """Runs/s claimed and completed, ``claim_size`` per claim, one complete_many per claim."""
    start, cpu = time.perf_counter(), time.process_time()
    done = 0
    while done < total:
        now = datetime.now(UTC)
        runs = await store.claim(
            owner="bench", limit=claim_size, now=now, lease_seconds=30, graph_limits={"noop": 1000}
        )
        if not runs:
            break
        completions = [Completion(run_id=r.run_id, status=RunStatus.succeeded) for r in runs]
        done += len(await store.complete_many(owner="bench", completions=completions, now=now))
    return _rates(done, start, cpu)


async def _fresh(folder: Path, name: str, synchronous: str) -> SQLiteStore:
    store = SQLiteStore(f"sqlite:///{folder / name}?synchronous={synchronous}")
    await store.open()
    return store


def _median(label: str, values: list[Rates], unit: str) -> Rates:
    wall = statistics.median(v[0] for v in values)
    cpu = statistics.median(v[1] for v in values)
    runs = ", ".join(f"{v[0]:,.0f}" for v in values)
    print(f"{label:<42} {wall:>9,.0f} {unit}  per CPU-s {cpu:>9,.0f}  (wall runs: {runs})")
    return wall, cpu


async def main(total: int, repeat: int, synchronous: str) -> None:
    print(f"SQLite {sqlite3.sqlite_version}, synchronous={synchronous}, {total:,} runs, "
          f"median of {repeat}")  # fmt: skip
    raw: list[Rates] = []
    enq: list[Rates] = []
    burns: dict[int, list[Rates]] = {16: [], 64: [], 256: []}
    for rep in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            raw.append(raw_insert(folder / "raw.db", _runs(total), synchronous))
            store = await _fresh(folder, "store.db", synchronous)
            enq.append(await store_enqueue(store, _runs(total)))
            for size, values in burns.items():
                await store.enqueue_batch([EnqueueRequest(run=r) for r in _runs(total // 4)])
                values.append(await burn_down(store, total // 4, size))
            await store.close()
        print(f"  run {rep + 1}/{repeat} done")
    base = _median("raw sqlite3 executemany (500/txn)", raw, "rows/s")
    mine = _median("SQLiteStore.enqueue_batch (500/call)", enq, "rows/s")
    print(
        f"{'  enqueue_batch / raw':<42} {mine[0] / base[0]:>9.0%}"
        f"        per CPU-s {mine[1] / base[1]:>9.0%}"
    )
    for size, values in burns.items():
        _median(f"claim({size}) + complete_many burn-down", values, "runs/s")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument("--synchronous", default="full", choices=["full", "normal"])
    args = parser.parse_args()
    anyio.run(main, args.runs, args.repeat, args.synchronous, backend=args.backend)


if __name__ == "__main__":
    cli()
