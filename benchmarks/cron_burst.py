"""Cron benchmark (b): 10,000 specs all due in the same second, durable SQLite store.

Lag = commit of the run (receipt resolved) minus the planned instant, per fire, as recorded in
``metrics.cron_fire_lag``. Baseline, same run: one task enqueues the same 10,000 requests
straight into the scheduler at the planned instant and awaits their receipts (the cost of the
durable group commit alone). The dispatcher runs the (no-op) graphs meanwhile, as in production.

Floor, same run (issue 17): one raw ``sqlite3`` transaction (``BEGIN IMMEDIATE``,
``executemany`` of the N prebuilt rows into ``runs`` with all its indexes, ``COMMIT``) on a fresh
file with the store's pragmas, no scheduler, no thread hop; the goal is p99 lag <= 2x floor.
The same transaction with the N cursor upserts is printed next to it.

Usage: .venv/bin/python benchmarks/cron_burst.py [N] [RUNS] [BACKENDS]   (BACKENDS: asyncio,trio)
"""

from __future__ import annotations

import math
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from cron_common import median, pct, scheduler_on_sqlite

from stargraph._log import configure_logging
from stargraph.clock import SystemClock
from stargraph.metrics import Metrics
from stargraph.store.base import CursorAdvance, EnqueueRequest, NewRun
from stargraph.store.sqlite.enqueue import _INSERT_RUN, ADVANCE_CURSOR, _batch_rows
from stargraph.store.sqlite.schema import migrate
from stargraph.triggers.cron import CronSpec, CronTrigger


class _Recorder:
    """Stands in for the lag histogram and keeps every observation (and, into *cpu* if given,
    the process CPU time at the observation number *at*: one system call, not one per fire)."""

    def __init__(self, sink: list[float], cpu: list[float] | None = None, at: int = 0) -> None:
        self.sink, self.cpu, self.at = sink, cpu, at

    def labels(self, *_: Any) -> _Recorder:
        return self

    def observe(self, value: float) -> None:
        self.sink.append(value)
        if self.cpu is not None and len(self.sink) == self.at:
            self.cpu.append(time.process_time())


async def _mark_cpu(when: datetime, cpu: list[float]) -> None:
    """Record the process CPU time just before the planned instant (the loop is idle then)."""
    await SystemClock().sleep_until(when - timedelta(seconds=0.05))
    cpu.insert(0, time.process_time())


def p99_rank(n: int) -> int:
    """The observation (1-based) at which 99 % of *n* fires have committed."""
    return max(1, math.ceil(0.99 * n))


def cpu_to_p99(cpu: list[float]) -> float:
    """CPU seconds the process used from the planned instant until 99 % of fires committed
    (*cpu*: the mark before the instant, then the one at observation :func:`p99_rank`)."""
    return cpu[1] - cpu[0]


def _target() -> datetime:
    now = datetime.now(UTC)
    return datetime.fromtimestamp(math.ceil(now.timestamp()) + 3, UTC)


async def _cron_run(n: int, cpu: list[float] | None = None) -> list[float]:
    """Lags of *n* same-second fires; with *cpu*, the CPU marks for :func:`cpu_to_p99`."""
    lags: list[float] = []
    metrics = Metrics()
    metrics.cron_fire_lag = _Recorder(lags, cpu, p99_rank(n))  # type: ignore[assignment]
    when = _target()
    expr = f"{when.minute} {when.hour} * * * {when.second}"
    specs = [
        CronSpec(trigger_id=f"cron:burst-{i}", schedule=expr, graph_id="work") for i in range(n)
    ]
    async with scheduler_on_sqlite(metrics=metrics) as sched, anyio.create_task_group() as tg:
        trig = CronTrigger()
        trig.init({"cron_specs": specs, "scheduler": sched, "task_group": tg})
        await trig.start()
        if cpu is not None:
            tg.start_soon(_mark_cpu, when, cpu)
        with anyio.fail_after(60):
            while len(lags) < n:
                await anyio.sleep(0.2)
        tg.cancel_scope.cancel()
    return lags


async def _baseline_run(n: int) -> list[float]:
    when = _target()
    async with scheduler_on_sqlite() as sched:
        await SystemClock().sleep_until(when)
        receipts = []
        for i in range(n):
            tid = f"base-{i}"
            receipts.append(
                sched.enqueue(
                    "work",
                    {},
                    f"cron:{tid}:{when.isoformat()}",
                    trigger_id=tid,
                    trigger_source="cron",
                    scheduled_fire=when,
                    cursor=CursorAdvance(trigger_id=tid, cursor=when),
                )
            )
            if i % 256 == 0:
                await anyio.lowlevel.checkpoint()
        lags = []
        for r in receipts:
            await r
            lags.append((datetime.now(UTC) - when) / timedelta(seconds=1))
    return lags


def _floor_rows(n: int) -> tuple[list[tuple[Any, ...]], list[tuple[str, int, int]]]:
    """The N rows a burst inserts (cron fires of ``_cron_run``) and their cursor upserts.

    Made by the store's own ``_batch_rows`` from the same requests, so they always fit
    ``_INSERT_RUN`` (a column added to ``runs`` once left hand-written rows one value short).
    """
    when = _target()
    requests = []
    for i in range(n):
        tid, now = f"cron:burst-{i}", datetime.now(UTC)
        run = NewRun(run_id=uuid.uuid4().hex, graph_id="work",
                     idempotency_key=f"cron:{tid}:{when.isoformat()}", trigger_id=tid,
                     trigger_source="cron", scheduled_fire=when, enqueued_at=now,
                     not_before=now)  # fmt: skip
        requests.append(EnqueueRequest(run=run, cursor=CursorAdvance(trigger_id=tid, cursor=when)))
    return _batch_rows(requests)


def raw_floor(n: int, cursors: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds of one raw transaction inserting *n* burst rows (+ cursor upserts
    if asked)."""
    rows, advances = _floor_rows(n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "floor.db"
        conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "cache_size=-65536"):
            conn.execute(f"PRAGMA {pragma}")
        migrate(conn, str(path))
        start, cpu = time.perf_counter(), time.process_time()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_INSERT_RUN, rows)
        if cursors:
            conn.executemany(ADVANCE_CURSOR, advances)
        conn.execute("COMMIT")
        seconds = time.perf_counter() - start, time.process_time() - cpu
        conn.close()
    return seconds


def _p99s(lags: list[list[float]]) -> list[int]:
    return [round(pct(x, 99) * 1000) for x in lags]


def _ms(values: list[float]) -> str:
    return f"{median(values) * 1000:.0f} ms"


def main() -> None:
    configure_logging("warning")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    backends = (sys.argv[3] if len(sys.argv) > 3 else "asyncio,trio").split(",")
    print(f"cron burst: {n:,} specs due in the same second, SQLite (WAL, durable), "
          f"median of {runs} runs")  # fmt: skip
    floors: list[tuple[float, float]] = []
    with_cursors: list[tuple[float, float]] = []
    for backend in backends:
        cron: list[list[float]] = []
        cpus: list[float] = []
        base: list[list[float]] = []
        for _ in range(runs):  # interleaved, so the floor sees the same machine load
            floors.append(raw_floor(n))
            with_cursors.append(raw_floor(n, cursors=True))
            marks: list[float] = []
            cron.append(anyio.run(_cron_run, n, marks, backend=backend))
            cpus.append(cpu_to_p99(marks))
            base.append(anyio.run(_baseline_run, n, backend=backend))
        _report(backend, cron, base, cpus, floors[-runs:])
    walls, cpu = [f[0] for f in floors], [f[1] for f in floors]
    print(f"floor: one raw transaction of {n:,} rows {_ms(walls)} (CPU {_ms(cpu)}; with the "
          f"{n:,} cursor upserts: {_ms([f[0] for f in with_cursors])}); per run "
          f"{[round(x * 1000) for x in walls]}")  # fmt: skip


def _report(
    backend: str,
    cron: list[list[float]],
    base: list[list[float]],
    cpus: list[float],
    floors: list[tuple[float, float]],
) -> None:
    c50, c99 = median([pct(x, 50) for x in cron]), median([pct(x, 99) for x in cron])
    b50, b99 = median([pct(x, 50) for x in base]), median([pct(x, 99) for x in base])
    f, f_cpu = median([x[0] for x in floors]), median([x[1] for x in floors])
    print(
        f"  {backend:8}cron lag p50 {c50 * 1000:.0f} ms, p99 {c99 * 1000:.0f} ms "
        f"(max {median([max(x) for x in cron]) * 1000:.0f}); direct enqueue p50 {b50 * 1000:.0f}, "
        f"p99 {b99 * 1000:.0f} ms; raw floor {f * 1000:.0f} ms"
    )
    print(
        f"          p99 / floor: cron {c99 / f:.2f} (goal <= 2), direct {b99 / f:.2f}; "
        f"cron/direct {c99 / b99:.2f}; CPU to p99 {median(cpus) * 1000:.0f} ms = "
        f"{median(cpus) / f_cpu:.2f}x the floor's CPU ({f_cpu * 1000:.0f} ms)"
    )
    print(
        f"          per run p99 (ms) cron {_p99s(cron)}, direct {_p99s(base)}, "
        f"floor {[round(x[0] * 1000) for x in floors]}, CPU to p99 {[round(c * 1e3) for c in cpus]}"
    )


if __name__ == "__main__":
    main()
