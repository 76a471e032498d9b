"""Console runs page with 1,000,000 runs in SQLite: server time of ``/ui/runs`` against baselines.

Run: ``.venv/bin/python benchmarks/console_page.py [--runs 1000000] [--repeat 25]
[--db /tmp/stargraph-console-bench.db] [--backend trio]``.

The database is bulk-loaded once with direct SQL into the real schema (indexes built after the
load, no ``ANALYZE``: the store never runs it either) and reused while its row count matches.
Each page is requested through Quart's test client (the whole app: routing, the console guard,
the store read in its worker thread, the template), so the time is server time without sockets.
Per query it prints medians of ``--repeat`` requests for:

- ``store``: the bare ``scheduler.list_runs`` call the page makes (the floor);
- ``api``: ``GET /v1/runs`` with the same filter (the REST route over the same call);
- ``console``: ``GET /ui/runs`` (the HTML page), and its ratio to ``api`` and ``store``.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, RunContext, SchedulerSettings
from stargraph.serve import attach_runtime, create_app
from stargraph.serve.api_runs import run_filter
from stargraph.store.sqlite.schema import migrate

DAY_US = 86_400_000_000
SPREAD_DAYS = 6  # enqueue times span this many days before now (inside any retention)
GRAPHS = [f"graph-{i}" for i in range(10)]
TRIGGERS = [("cron", "cron:hourly"), ("cron", "cron:nightly"), ("webhook", "webhook:github"),
            ("manual", None), ("manual", None), ("plugin", "fswatch")]  # fmt: skip
#: (name, query) pairs measured; the first is the unfiltered first page.
QUERIES = [
    ("first page", ""),
    ("graph_id", "graph_id=graph-3"),
    ("status=failed", "status=failed"),
    ("trigger_id", "trigger_id=cron:nightly"),
    ("trigger_source", "trigger_source=webhook"),
    ("rare trigger_id", "trigger_id=rare:once"),
    ("since 1 h", "since={since}"),
    ("page 2", "cursor={cursor}"),
]
COLUMNS = (
    "run_id, graph_id, idempotency_key, status, params, trigger_id, trigger_source, "
    "scheduled_fire, enqueued_at, not_before, started_at, finished_at, result, error_type, "
    "error_message"
)


def _row(i: int, now_us: int, total: int, rng: random.Random) -> tuple[Any, ...]:
    enqueued = now_us - (total - i) * (SPREAD_DAYS * DAY_US // total)  # newest last
    source, trigger = TRIGGERS[i % len(TRIGGERS)]
    if i == total // 2:
        source, trigger = "cron", "rare:once"
    roll = rng.random()
    status = "failed" if roll < 0.01 else "cancelled" if roll < 0.015 else "succeeded"
    started = enqueued + rng.randint(1_000, 50_000)
    finished = started + rng.randint(5_000, 2_000_000)
    error = ("RuntimeError", "boom") if status == "failed" else (None, None)
    return (
        uuid.UUID(int=rng.getrandbits(128)).hex, GRAPHS[i % len(GRAPHS)], f"key-{i}", status,
        json.dumps({"i": i}), trigger, source, enqueued if source == "cron" else None,
        enqueued, enqueued, started, finished, "null" if status == "succeeded" else None, *error,
    )  # fmt: skip


def load(path: Path, total: int) -> None:
    """Create *path* with *total* finished runs (indexes dropped during the load, rebuilt after)."""
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")  # a throw-away file: no journal while loading
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    migrate(conn, str(path))
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs' "
        "AND sql IS NOT NULL"
    ).fetchall()
    rng, now_us = random.Random(7), time.time_ns() // 1000
    conn.execute("BEGIN")
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    rows = (_row(i, now_us, total, rng) for i in range(total))
    conn.executemany(f"INSERT INTO runs ({COLUMNS}) VALUES ({', '.join('?' * 15)})", rows)
    for _, sql in indexes:
        conn.execute(sql)
    counts = Counter(dict(conn.execute("SELECT status, count(*) FROM runs GROUP BY status")))
    conn.executemany(
        "UPDATE run_counts SET n = ? WHERE status = ?", [(n, s) for s, n in counts.items()]
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode=WAL")  # what the store uses
    conn.close()


def ensure(path: Path, total: int) -> None:
    """Load *path* unless it already holds *total* runs."""
    if path.exists():
        with sqlite3.connect(path) as conn:
            if conn.execute("SELECT sum(n) FROM run_counts").fetchone()[0] == total:
                return
    started = time.perf_counter()
    load(path, total)
    print(f"loaded {total:,} runs into {path} in {time.perf_counter() - started:.1f} s")


async def median_ms(call: Callable[[], Awaitable[Any]], repeat: int) -> float:
    await call()  # warm the page cache and the template
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def noop(params: dict[str, Any], ctx: RunContext) -> None:
    return None


async def measure(path: Path, repeat: int, backend: str) -> None:
    graphs = [Graph(graph_id=g, fn=noop) for g in GRAPHS]
    settings = SchedulerSettings(retention_days=3650)  # no prune pass during the measurement
    async with Runtime(f"sqlite:///{path}", graphs=graphs, settings=settings) as runtime:
        app = create_app(backend)
        attach_runtime(app, runtime)
        client = app.test_client()
        local = {"client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080)}
        first = await runtime.scheduler.list_runs(run_filter({})[0], limit=50, cursor=None)
        newest = first.items[0].enqueued_at.isoformat().replace("+00:00", "Z")
        since = newest[:11] + "00:00:00Z"  # the newest day's start: a real time range
        print(f"{'query':<16} {'store ms':>9} {'api ms':>8} {'console ms':>11} {'/api':>6} {'/store':>7}")
        for name, template in QUERIES:
            query = template.format(since=since, cursor=first.next_cursor)
            args = dict(part.split("=", 1) for part in query.split("&") if part)
            flt, limit, cursor = run_filter(args)

            async def store() -> Any:
                return await runtime.scheduler.list_runs(flt, limit=limit, cursor=cursor)

            async def get(url: str) -> Any:
                response = await client.get(url, scope_base=local)
                assert response.status_code == 200, (url, response.status_code)
                return await response.get_data()

            s = await median_ms(store, repeat)
            a = await median_ms(lambda: get(f"/v1/runs?{query}"), repeat)
            c = await median_ms(lambda: get(f"/ui/runs?{query}"), repeat)
            print(f"{name:<16} {s:9.2f} {a:8.2f} {c:11.2f} {c / a:6.2f} {c / s:7.2f}")
        o = await median_ms(lambda: get("/ui/"), max(3, repeat // 5))
        m = await median_ms(lambda: get("/metrics"), max(3, repeat // 5))
        print(f"overview /ui/: {o:.1f} ms (reads up to 20,000 finished runs); /metrics: {m:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--db", type=Path, default=Path("/tmp/stargraph-console-bench.db"))
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    ensure(args.db, args.runs)
    print(f"{args.runs:,} runs, median of {args.repeat} requests, backend {args.backend}")
    anyio.run(measure, args.db, args.repeat, args.backend, backend=args.backend)


if __name__ == "__main__":
    main()
