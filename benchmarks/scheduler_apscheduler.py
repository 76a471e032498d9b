"""Comparison only: APScheduler 4.0.0a6 with its SQLAlchemy data store on SQLite (aiosqlite).

Not part of Stargraph and not installed with it. Run it from a separate virtualenv::

    python -m venv /tmp/aps-venv
    /tmp/aps-venv/bin/pip install "apscheduler==4.0.0a6" "sqlalchemy[asyncio]>=2.0.24,<2.1" \
        aiosqlite sniffio
    /tmp/aps-venv/bin/python benchmarks/scheduler_apscheduler.py [--jobs 2000] [--repeat 3]

Measures what ``scheduler_enqueue.py`` and ``scheduler_burndown.py`` measure for Stargraph:
``add_job`` throughput (awaited one by one, as a caller needing a durable ack would), and the
burn-down of the same number of no-op jobs (asyncio; APScheduler's SQLite path is asyncio-only).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from apscheduler import AsyncScheduler, JobReleased
from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore
from sqlalchemy.ext.asyncio import create_async_engine


async def noop() -> None:
    return None


async def one(path: Path, jobs: int) -> tuple[float, float]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    released = 0
    done = asyncio.Event()

    def on_release(_event: object) -> None:
        nonlocal released
        released += 1
        if released >= jobs:
            done.set()

    async with AsyncScheduler(SQLAlchemyDataStore(engine)) as scheduler:
        scheduler.subscribe(on_release, {JobReleased})
        start = time.perf_counter()
        for _ in range(jobs):
            await scheduler.add_job(noop)
        enqueue_rate = jobs / (time.perf_counter() - start)
        start = time.perf_counter()
        await scheduler.start_in_background()
        await asyncio.wait_for(done.wait(), timeout=600)
        burn_rate = jobs / (time.perf_counter() - start)
        await scheduler.stop()
    await engine.dispose()
    return enqueue_rate, burn_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    enq, burn = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            e, b = asyncio.run(one(Path(tmp) / "aps.db", args.jobs))
            enq.append(e)
            burn.append(b)
    print(
        f"APScheduler 4.0.0a6, SQLite (aiosqlite), {args.jobs} jobs, median of {args.repeat}: "
        f"add_job {statistics.median(enq):,.0f}/s, burn-down {statistics.median(burn):,.0f}"
        " jobs/s"
    )


if __name__ == "__main__":
    main()
