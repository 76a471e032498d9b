"""Cron benchmark (a): 100,000 specs in one process — start-up time and memory per spec.

Start-up is ``CronTrigger.init`` + ``start`` against a running Scheduler on a durable SQLite
file: read every cursor (one query), plan catch-ups, compute every next fire, fill the heap.
Two cases: first deploy (empty store) and restart (a cursor stored for every spec). Memory is
measured with tracemalloc in a separate pass. Baseline, same run: one croniter object per spec
(what a scheduler that keeps an iterator per schedule pays), measured on 5,000 specs (on N if
N is smaller).

With ``--interval`` the same for N interval specs (``make_interval_specs``: half anchored by
``start_at``, half on the anchor the first start persists, every fifth jittered), hosted by the
same loop; no croniter baseline then.

Usage: .venv/bin/python benchmarks/cron_startup.py [N] [RUNS] [--interval]
"""

from __future__ import annotations

import gc
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from cron_common import make_interval_specs, make_specs, median, scheduler_on_sqlite
from croniter import croniter

from stargraph.triggers.cron import CronTrigger
from stargraph.triggers.cron.interval import IntervalSpec, TimeSpec

BASELINE_SPECS = 5_000


def _deps(specs: list[Any]) -> dict[str, Any]:
    return {f"{specs[0].kind}_specs": specs}


async def _start(specs: list[Any], path: Path) -> float:
    async with scheduler_on_sqlite(path) as sched, anyio.create_task_group() as tg:
        trig = CronTrigger()
        t0 = time.perf_counter()
        trig.init({**_deps(specs), "scheduler": sched, "task_group": tg})
        await trig.start()
        elapsed = time.perf_counter() - t0
        tg.cancel_scope.cancel()
    return elapsed


def _seed_cursors(path: Path, specs: list[Any]) -> None:
    """Store, for every spec, its latest planned fire: a restart right after a clean stop.

    Interval specs without ``start_at`` use the anchor their first start persisted (kept).
    """
    now = int(datetime.now(UTC).timestamp())
    rows = []
    with sqlite3.connect(path) as conn:
        anchors = dict(conn.execute("SELECT trigger_id, anchor FROM trigger_state").fetchall())
        for s in specs:
            last = _compiled(s, anchors).latest_at_or_before(now, now - 40 * 86_400) or now - 1
            rows.append((s.trigger_id, last * 1_000_000, now * 1_000_000))
        conn.executemany(
            "INSERT INTO trigger_state (trigger_id, cursor, paused, updated_at) "
            "VALUES (?, ?, 0, ?) ON CONFLICT (trigger_id) DO UPDATE SET "
            "cursor = excluded.cursor, updated_at = excluded.updated_at",
            rows,
        )


def _compiled(spec: TimeSpec, anchors: dict[str, int | None]) -> Any:
    if isinstance(spec, IntervalSpec) and spec.start_at is None:
        anchor = anchors[spec.trigger_id]
        assert anchor is not None, f"{spec.trigger_id}: the first start stored no anchor"
        return spec.anchored(datetime.fromtimestamp(anchor / 1e6, UTC)).compiled
    return spec.compiled


async def _memory(specs: list[Any], path: Path) -> int:
    async with scheduler_on_sqlite(path) as sched, anyio.create_task_group() as tg:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        trig = CronTrigger()
        trig.init({**_deps(specs), "scheduler": sched, "task_group": tg})
        await trig.start()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        tg.cancel_scope.cancel()
    return sum(s.size_diff for s in after.compare_to(before, "filename"))


def _spec_memory(n: int, interval: bool) -> tuple[int, list[Any]]:
    gc.collect()
    tracemalloc.start()
    specs: list[Any] = (
        make_interval_specs(n, prefix="interval:mem-") if interval else make_specs(n, "cron:mem-")
    )
    gc.collect()
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return size, specs


def _croniter_baseline(n: int) -> tuple[float, float]:
    specs = make_specs(n, prefix="cron:base-")
    from zoneinfo import ZoneInfo

    now = datetime.now(UTC)

    def build() -> list[croniter]:
        iters = []
        for s in specs:
            it = croniter(s.schedule, now.astimezone(ZoneInfo(s.tz)), hash_id=s.trigger_id)
            it.get_next(datetime)
            iters.append(it)
        return iters

    t0 = time.perf_counter()
    build()
    elapsed = time.perf_counter() - t0
    gc.collect()
    tracemalloc.start()
    kept = build()
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return elapsed / n * 1e6, size / n


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--interval"]
    interval = "--interval" in sys.argv[1:]
    n = int(args[0]) if args else 100_000
    runs = int(args[1]) if len(args) > 1 else 3
    make: Any = make_interval_specs if interval else make_specs
    kind = "interval" if interval else "cron"
    build, first, restart = [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        specs = make(n)
        build.append(time.perf_counter() - t0)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "a.db"
            first.append(anyio.run(_start, specs, path))
            _seed_cursors(path, specs)
            restart.append(anyio.run(_start, specs, path))
    spec_bytes, specs = _spec_memory(n, interval)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.db"
        anyio.run(_start, specs, path)
        _seed_cursors(path, specs)
        loop_bytes = anyio.run(_memory, specs, path)
    ours_us = median(restart) / n * 1e6
    print(f"{kind} start-up, {n:,} specs, median of {runs} runs")
    print(f"  build {type(specs[0]).__name__} objects (parse, validate): {median(build):.2f} s")
    print(f"  init+start, first deploy (empty store):     {median(first):.2f} s")
    print(
        f"  init+start, restart (a cursor per spec):     {median(restart):.2f} s "
        f"({ours_us:.1f} us/spec)"
    )
    print(
        f"  memory: spec objects {spec_bytes / n:.0f} B/spec; "
        f"loop state after start {loop_bytes / n:.0f} B/spec; "
        f"total {(spec_bytes + loop_bytes) / n:.0f} B/spec"
    )
    if interval:
        return
    base_n = min(n, BASELINE_SPECS)
    base_us, base_bytes = _croniter_baseline(base_n)
    print(
        f"  baseline (one croniter per spec, {base_n:,} specs): {base_us:.1f} us/spec, "
        f"{base_bytes:.0f} B/spec"
    )
    print(
        f"  ratio: start-up {base_us / ours_us:.1f}x faster, memory "
        f"{base_bytes / (loop_bytes / n):.1f}x smaller than the baseline"
    )


if __name__ == "__main__":
    main()
