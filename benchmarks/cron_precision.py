"""Cron benchmark (c): one spec firing every second for a minute — lag p50/p99.

Lag = commit of the run minus the planned instant (``metrics.cron_fire_lag``), real
SystemClock, durable SQLite store. Baseline, same run: a plain task that sleeps until each
whole second and submits the same request (what a hand-written loop would get).

Usage: .venv/bin/python benchmarks/cron_precision.py [SECONDS] [RUNS] [BACKEND]
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta

import anyio
from cron_burst import _Recorder
from cron_common import median, pct, scheduler_on_sqlite

from stargraph.clock import SystemClock
from stargraph.metrics import Metrics
from stargraph.store.base import CursorAdvance
from stargraph.triggers.cron import CronSpec, CronTrigger


async def _cron_run(seconds: int) -> list[float]:
    lags: list[float] = []
    metrics = Metrics()
    metrics.cron_fire_lag = _Recorder(lags)  # type: ignore[assignment]
    spec = CronSpec(trigger_id="cron:tick", schedule="* * * * * *", graph_id="work")
    async with scheduler_on_sqlite(metrics=metrics) as sched, anyio.create_task_group() as tg:
        trig = CronTrigger()
        trig.init({"cron_specs": [spec], "scheduler": sched, "task_group": tg})
        await trig.start()
        with anyio.fail_after(seconds + 30):
            while len(lags) < seconds:
                await anyio.sleep(0.25)
        tg.cancel_scope.cancel()
    return lags[:seconds]


async def _baseline_run(seconds: int) -> list[float]:
    lags: list[float] = []
    clock = SystemClock()
    async with scheduler_on_sqlite() as sched:
        first = math.ceil(datetime.now(UTC).timestamp()) + 1
        for k in range(seconds):
            when = datetime.fromtimestamp(first + k, UTC)
            await clock.sleep_until(when)
            await sched.submit(
                "work",
                {},
                f"base:{when.isoformat()}",
                trigger_id="base",
                trigger_source="cron",
                scheduled_fire=when,
                cursor=CursorAdvance(trigger_id="base", cursor=when),
            )
            lags.append((datetime.now(UTC) - when) / timedelta(seconds=1))
    return lags


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    backend = sys.argv[3] if len(sys.argv) > 3 else "asyncio"
    cron = [anyio.run(_cron_run, seconds, backend=backend) for _ in range(runs)]
    base = [anyio.run(_baseline_run, seconds, backend=backend) for _ in range(runs)]
    ms = 1000
    print(
        f"cron precision: one spec every second for {seconds} s, SQLite (WAL, durable), "
        f"{backend}, median of {runs} runs"
    )
    print(
        f"  cron:     lag p50 {median([pct(x, 50) for x in cron]) * ms:.1f} ms, "
        f"p99 {median([pct(x, 99) for x in cron]) * ms:.1f} ms, "
        f"max {median([max(x) for x in cron]) * ms:.1f} ms"
    )
    print(
        f"  baseline: lag p50 {median([pct(x, 50) for x in base]) * ms:.1f} ms, "
        f"p99 {median([pct(x, 99) for x in base]) * ms:.1f} ms "
        "(sleep_until + submit in a plain task)"
    )
    print(
        f"  ratio cron/baseline p99: "
        f"{median([pct(x, 99) for x in cron]) / median([pct(x, 99) for x in base]):.2f}"
    )
    print(f"  per run p99 (ms): {[round(pct(x, 99) * ms, 1) for x in cron]}")


if __name__ == "__main__":
    main()
