"""Client CPU of one producer awaiting each enqueue on PostgreSQL, against procrastinate.

Run: ``.venv/bin/python benchmarks/pg_producer.py [--runs 5000] [--repeat 3]
[--base DIR] [--backend asyncio|trio]``.

Every case runs in its own process on a fresh database; cases are interleaved round-robin.
The process awaits ``--runs`` enqueues one at a time (a commit each, after 100 untimed ones) and
reports its own CPU (user + sys, all threads, ``getrusage``) and the CPU of the database
backends serving it, both per 10,000 enqueues, and its rate:

- ``submit``: ``await scheduler.submit(...)`` -- a Scheduler on a listening store whose only
  execution slot is held by a blocking run (as ``enqueue_load.py``), so only intake is timed;
- ``submit, listen=false``: the same with ``?listen=false`` (no LISTEN connection at all);
- ``submit, base``: the same code as ``submit`` from the source tree ``--base`` (e.g. an
  export of ``main``), for before/after figures from the same run;
- ``procrastinate``: ``await task.defer_async(...)`` (procrastinate 3, if installed: it is not
  a dependency), pool min 1 / max 10 as Stargraph's, defaults otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import psycopg
from pg_common import fresh_db, median

WARMUP = 100
_TICK = os.sysconf("SC_CLK_TCK")
_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> %s"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _backend_cpu(conn: psycopg.Connection[Any]) -> dict[int, float]:
    """CPU seconds so far of every other backend connected to this database."""
    seen: dict[int, float] = {}
    for (pid,) in conn.execute(_BACKENDS, (conn.info.backend_pid,)).fetchall():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seen[pid] = (int(fields[11]) + int(fields[12])) / _TICK
    return seen


async def _timed(
    url: str, enqueue: Callable[[int], Awaitable[Any]], count: int
) -> dict[str, float]:
    for i in range(WARMUP):
        await enqueue(-1 - i)
    with psycopg.connect(url.split("?")[0], autocommit=True) as probe:
        db_before = _backend_cpu(probe)
        cpu, start = _cpu(), time.perf_counter()
        for i in range(count):
            await enqueue(i)
        elapsed, cpu = time.perf_counter() - start, _cpu() - cpu
        db_after = _backend_cpu(probe)
    db = sum(t - db_before.get(pid, 0.0) for pid, t in db_after.items())
    per = 10_000 / count
    return {"rate": count / elapsed, "cpu": cpu * per, "db": db * per}


async def _block(params: dict[str, Any], ctx: Any) -> None:
    await anyio.sleep_forever()


async def stargraph_child(url: str, count: int) -> dict[str, float]:
    """One producer awaiting ``scheduler.submit``; its only slot is held by a blocking run."""
    from stargraph.scheduler import Graph, Scheduler, SchedulerSettings
    from stargraph.store import open_store

    store = open_store(url)
    await store.open()
    settings = SchedulerSettings(max_concurrent_runs=1, shutdown_grace=0, poll_interval=1.0)
    try:
        async with Scheduler(store, [Graph(graph_id="noop", fn=_block)], settings=settings) as s:
            return await _timed(url, lambda i: s.submit("noop", {"i": i}), count)
    finally:
        await store.close()


async def procrastinate_child(url: str, count: int) -> dict[str, float]:
    """One producer awaiting ``defer_async``; no worker."""
    import procrastinate

    connector = procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=10)
    app = procrastinate.App(connector=connector)

    @app.task(name="noop")
    async def noop(i: int) -> None:
        """Never run: no worker."""

    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        return await _timed(url, lambda i: noop.defer_async(i=i), count)


def _case(name: str, url: str, count: int, backend: str, base: str | None) -> dict[str, float]:
    env = dict(os.environ)
    if name == "submit, base":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [base, env.get("PYTHONPATH")]))
    if name == "submit, listen=false":
        url += "?listen=false"
    kind = "procrastinate" if name == "procrastinate" else "stargraph"
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, url, "--runs", str(count),
         "--backend", "asyncio" if kind == "procrastinate" else backend],
        env=env, capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def _cases(base: str | None) -> list[str]:
    names = ["submit", "submit, listen=false"]
    if base:
        names.insert(1, "submit, base")
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        print("procrastinate is not installed: its case is skipped")
    else:
        names.append("procrastinate")
    return names


def _cell(values: list[float], fmt: str) -> str:
    return f"{median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--base", metavar="DIR", help="source tree of the 'before' Stargraph")
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "URL"))
    args = parser.parse_args()
    if args.child:
        kind, url = args.child
        child = procrastinate_child if kind == "procrastinate" else stargraph_child
        print(json.dumps(anyio.run(child, url, args.runs, backend=args.backend)), flush=True)
        return
    names = _cases(args.base)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for _ in range(args.repeat):
        for name in names:
            with fresh_db() as url:
                runs[name].append(_case(name, url, args.runs, args.backend, args.base))
    print(f"one producer, {args.runs} awaited enqueues ({args.backend}), median (min-max) "
          f"of {args.repeat}; CPU-s per 10k enqueues")  # fmt: skip
    ref = median([r["cpu"] for r in runs.get("procrastinate", runs[names[0]])])
    for name in names:
        cpu = [r["cpu"] for r in runs[name]]
        print(
            f"{name:22} {_cell([r['rate'] for r in runs[name]], ',.0f')}/s | client CPU "
            f"{_cell(cpu, '.2f')} ({median(cpu) / ref:.2f}x ref) | DB CPU "
            f"{_cell([r['db'] for r in runs[name]], '.2f')}"
        )


if __name__ == "__main__":
    main()
