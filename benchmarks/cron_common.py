"""Shared helpers for the cron benchmarks: spec mixes, a scheduler on a SQLite file, stats."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stargraph.metrics import Metrics
from stargraph.scheduler import Graph, Scheduler, SchedulerSettings
from stargraph.store import open_store
from stargraph.triggers.cron import CronSpec
from stargraph.triggers.cron.interval import IntervalSpec

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "America/Santiago"]
MIX = [
    "H H * * *",
    "H/15 * * * *",
    "*/5 * * * *",
    "0 9 * * 1-5",
    "H H(0-5) * * *",
    "30 2 * * *",
    "H * * * *",
    "0 0 1 * *",
]


async def noop(params: dict[str, Any], ctx: Any) -> None:
    return None


def make_specs(n: int, prefix: str = "cron:tenant-") -> list[CronSpec]:
    """*n* specs over a realistic mix of expressions (half hashed) and five zones."""
    return [
        CronSpec(
            trigger_id=f"{prefix}{i}",
            schedule=MIX[i % len(MIX)],
            tz=ZONES[i % len(ZONES)],
            graph_id="work",
        )
        for i in range(n)
    ]


EVERY = [30, 60, 90, 300, 600, 3600, 86_400]  # seconds
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


def make_interval_specs(n: int, prefix: str = "interval:tenant-") -> list[IntervalSpec]:
    """*n* interval specs: a mix of periods; half anchored by ``start_at`` (spread over a
    day), half on the anchor persisted at first sight; every fifth with a 5 s jitter."""
    return [
        IntervalSpec(
            trigger_id=f"{prefix}{i}",
            every=EVERY[i % len(EVERY)],
            start_at=ANCHOR + timedelta(seconds=i % 86_400) if i % 2 else None,
            jitter=5 if i % 5 == 0 else 0,
            graph_id="work",
        )
        for i in range(n)
    ]


@asynccontextmanager
async def scheduler_on_sqlite(
    path: Path | None = None, metrics: Metrics | None = None, **settings: Any
) -> AsyncIterator[Scheduler]:
    """A running Scheduler on a durable SQLite file (a fresh temp file unless *path*)."""
    tmp = None
    if path is None:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "bench.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        graphs = [Graph(graph_id="work", fn=noop)]
        async with Scheduler(
            store, graphs, settings=SchedulerSettings(**settings), metrics=metrics or Metrics()
        ) as sched:
            yield sched
    finally:
        await store.close()
        if tmp is not None:
            tmp.cleanup()


def pct(values: list[float], p: float) -> float:
    """The *p*-th percentile (nearest rank) of *values*."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def median(values: list[float]) -> float:
    return statistics.median(values)
