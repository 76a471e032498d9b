"""Cron benchmark (b): 10,000 specs all due in the same second, durable SQLite store.

Lag = commit of the run (receipt resolved) minus the planned instant, per fire, as recorded in
``metrics.cron_fire_lag``. Baseline, same run: one task enqueues the same 10,000 requests
straight into the scheduler at the planned instant and awaits their receipts (the cost of the
durable group commit alone). The dispatcher runs the (no-op) graphs meanwhile, as in production.

Usage: .venv/bin/python benchmarks/cron_burst.py [N] [RUNS]
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from cron_common import median, pct, scheduler_on_sqlite

from stargraph._log import configure_logging
from stargraph.clock import SystemClock
from stargraph.metrics import Metrics
from stargraph.store.base import CursorAdvance
from stargraph.triggers.cron import CronSpec, CronTrigger


class _Recorder:
    """Stands in for the lag histogram and keeps every observation."""

    def __init__(self, sink: list[float]) -> None:
        self.sink = sink

    def labels(self, *_: Any) -> _Recorder:
        return self

    def observe(self, value: float) -> None:
        self.sink.append(value)


def _target() -> datetime:
    now = datetime.now(UTC)
    return datetime.fromtimestamp(math.ceil(now.timestamp()) + 3, UTC)


async def _cron_run(n: int) -> list[float]:
    lags: list[float] = []
    metrics = Metrics()
    metrics.cron_fire_lag = _Recorder(lags)  # type: ignore[assignment]
    when = _target()
    expr = f"{when.minute} {when.hour} * * * {when.second}"
    specs = [
        CronSpec(trigger_id=f"cron:burst-{i}", schedule=expr, graph_id="work") for i in range(n)
    ]
    async with scheduler_on_sqlite(metrics=metrics) as sched, anyio.create_task_group() as tg:
        trig = CronTrigger()
        trig.init({"cron_specs": specs, "scheduler": sched, "task_group": tg})
        await trig.start()
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


def main() -> None:
    configure_logging("warning")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    cron = [anyio.run(_cron_run, n) for _ in range(runs)]
    base = [anyio.run(_baseline_run, n) for _ in range(runs)]
    c50, c99 = median([pct(x, 50) for x in cron]), median([pct(x, 99) for x in cron])
    b50, b99 = median([pct(x, 50) for x in base]), median([pct(x, 99) for x in base])
    print(
        f"cron burst: {n:,} specs due in the same second, SQLite (WAL, durable), "
        f"median of {runs} runs"
    )
    print(
        f"  cron:     lag p50 {c50 * 1000:.0f} ms, p99 {c99 * 1000:.0f} ms, "
        f"max {median([max(x) for x in cron]) * 1000:.0f} ms"
    )
    print(
        f"  baseline: lag p50 {b50 * 1000:.0f} ms, p99 {b99 * 1000:.0f} ms "
        "(direct enqueue of the same requests at the planned instant)"
    )
    print(f"  ratio cron/baseline p99: {c99 / b99:.2f}")
    print(
        f"  per run p99 (ms): cron {[round(pct(x, 99) * 1000) for x in cron]}, "
        f"baseline {[round(pct(x, 99) * 1000) for x in base]}"
    )


if __name__ == "__main__":
    main()
