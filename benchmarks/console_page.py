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
import sqlite3
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
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

#: One INSERT ... SELECT over a recursive counter: the rows are made inside SQLite (seconds,
#: not minutes). Enqueue times are spread evenly over SPREAD_DAYS, newest last; 1 % failed,
#: 0.5 % cancelled, the rest succeeded; sources and triggers cycle; one run has a rare trigger.
_LOAD = """
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < :total),
base AS (
    SELECT i, abs(random()) % 1000 AS roll, :now - (:total - i) * :step AS enq,
           CASE WHEN i = :total / 2 THEN 6 ELSE i % 6 END AS kind,
           abs(random()) % 49000 + 1000 AS wait, abs(random()) % 2000000 + 5000 AS took
    FROM seq
)
INSERT INTO runs (run_id, graph_id, idempotency_key, status, params, trigger_id,
                  trigger_source, scheduled_fire, enqueued_at, not_before, started_at,
                  finished_at, result, error_type, error_message)
SELECT lower(hex(randomblob(16))), 'graph-' || (i % 10), 'key-' || i,
       CASE WHEN roll < 10 THEN 'failed' WHEN roll < 15 THEN 'cancelled' ELSE 'succeeded' END,
       '{"i": ' || i || '}',
       CASE kind WHEN 0 THEN 'cron:hourly' WHEN 1 THEN 'cron:nightly'
                 WHEN 2 THEN 'webhook:github' WHEN 5 THEN 'fswatch' WHEN 6 THEN 'rare:once' END,
       CASE kind WHEN 0 THEN 'cron' WHEN 1 THEN 'cron' WHEN 2 THEN 'webhook' WHEN 5 THEN 'plugin'
                 WHEN 6 THEN 'cron' ELSE 'manual' END,
       CASE WHEN kind IN (0, 1, 6) THEN enq END, enq, enq, enq + wait, enq + wait + took,
       CASE WHEN roll >= 15 THEN 'null' END,
       CASE WHEN roll < 10 THEN 'RuntimeError' END, CASE WHEN roll < 10 THEN 'boom' END
FROM base
"""


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
    conn.execute("BEGIN")
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    step = SPREAD_DAYS * DAY_US // total
    conn.execute(_LOAD, {"total": total, "now": time.time_ns() // 1000, "step": step})
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


async def _ms(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def medians(calls: list[Callable[[], Awaitable[Any]]], repeat: int) -> list[float]:
    """Median ms of each call over *repeat* rounds, the calls interleaved in every round (so a
    load change on the shared machine hits them alike); one warm-up round first."""
    for call in calls:
        await call()
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(repeat):
        for times, call in zip(samples, calls, strict=True):
            times.append(await _ms(call))
    return [statistics.median(times) for times in samples]


async def noop(params: dict[str, Any], ctx: RunContext) -> None:
    return None


HEADER = f"{'query':<16} {'store ms':>9} {'api ms':>8} {'console ms':>11} {'/api':>6} {'/store':>7}"


async def measure(path: Path, repeat: int, backend: str) -> None:
    graphs = [Graph(graph_id=g, fn=noop) for g in GRAPHS]
    settings = SchedulerSettings(retention_days=3650)  # no prune pass during the measurement
    async with Runtime(f"sqlite:///{path}", graphs=graphs, settings=settings) as runtime:
        app = create_app(backend)
        attach_runtime(app, runtime)
        client = app.test_client()
        local = {"client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080)}

        async def get(url: str) -> Any:
            response = await client.get(url, scope_base=local)
            assert response.status_code == 200, (url, response.status_code)
            return await response.get_data()

        first = await runtime.scheduler.list_runs(run_filter({})[0], limit=50, cursor=None)
        newest = first.items[0].enqueued_at.isoformat().replace("+00:00", "Z")
        since = newest[:11] + "00:00:00Z"  # the newest day's start: a real time range
        print(HEADER)
        for name, template in QUERIES:
            query = template.format(since=since, cursor=first.next_cursor)
            flt, limit, cursor = run_filter(dict(p.split("=", 1) for p in query.split("&") if p))
            store = partial(runtime.scheduler.list_runs, flt, limit=limit, cursor=cursor)
            calls = [store, partial(get, f"/v1/runs?{query}"), partial(get, f"/ui/runs?{query}")]
            s, a, c = await medians(calls, repeat)
            print(f"{name:<16} {s:9.2f} {a:8.2f} {c:11.2f} {c / a:6.2f} {c / s:7.2f}")
        o, m = await medians([partial(get, "/ui/"), partial(get, "/metrics")], max(3, repeat // 3))
        print(f"overview /ui/: {o:.1f} ms (reads up to 5,000 finished runs); /metrics: {m:.1f} ms")


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
