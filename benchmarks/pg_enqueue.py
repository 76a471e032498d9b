"""Durable enqueue throughput on PostgreSQL against raw psycopg batched inserts.

Run: ``.venv/bin/python benchmarks/pg_enqueue.py [--runs 20000] [--repeat 5]
[--backend asyncio|trio|both]``.

Figures per backend, medians of ``--repeat`` fresh databases (``synchronous_commit=on``):

- ``raw``: the baseline -- one psycopg connection, no event loop, no thread hop, the same
  ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`` of 500 rows per transaction;
- ``batch``: ``PostgresStore.enqueue_batch`` of 500 requests (what the group-commit writer does
  under load, plus the NOTIFY);
- ``single``: ``enqueue_batch`` of one request at a time, awaited (commit per run);
- ``stream``: one producer calls ``scheduler.enqueue`` for every run, then awaits every receipt;
- ``acked``: 50 producers, each awaiting its receipt before its next enqueue.

The graph blocks and ``max_concurrent_runs=1``, so the dispatcher stays idle after one claim.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import anyio
import psycopg
from enqueue_load import BATCH, acked, stream
from pg_common import fresh_db, median

from stargraph._json import dumps
from stargraph.store import EnqueueRequest, NewRun
from stargraph.store.postgres import PostgresStore
from stargraph.store.postgres.enqueue import _INSERT, _row
from stargraph.store.postgres.schema import migrate


def _columns(count: int, base: int) -> list[list[Any]]:
    """The ``_INSERT`` parameters of *count* new runs: one array per column.

    Every column after the first four comes from the store's own row of a default run
    (``_row``), so a column added to ``runs`` reaches the baseline with its default. Per row
    only the ids and the params are made: the timed work of a hand-written tuple.
    """
    now = datetime.now(UTC)
    probe = NewRun(run_id="r", graph_id="noop", idempotency_key="k", params={"i": 0},
                   enqueued_at=now, not_before=now)  # fmt: skip
    template = _row(probe, False)
    assert template[:4] == ("r", "noop", "k", dumps({"i": 0})), template
    rest = template[4:]
    rows = [
        (uuid.uuid4().hex, "noop", uuid.uuid4().hex, dumps({"i": i}), *rest)
        for i in range(base, base + count)
    ]
    return [list(column) for column in zip(*rows, strict=True)]


def raw_insert(url: str, count: int) -> float:
    """Rows/s of plain psycopg, 500 rows per INSERT ... unnest transaction, same table."""
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, None)
        start = time.perf_counter()
        for base in range(0, count, BATCH):
            with conn.transaction():
                conn.execute(_INSERT, _columns(min(BATCH, count - base), base))
        return count / (time.perf_counter() - start)


def _request(i: int) -> EnqueueRequest:
    now = datetime.now(UTC)
    run = NewRun(run_id=uuid.uuid4().hex, graph_id="noop", idempotency_key=uuid.uuid4().hex,
                 params={"i": i}, enqueued_at=now, not_before=now)  # fmt: skip
    return EnqueueRequest(run=run)


async def store_batches(url: str, count: int, size: int) -> float:
    store = PostgresStore(url)
    await store.open()
    try:
        start = time.perf_counter()
        for base in range(0, count, size):
            await store.enqueue_batch([_request(i) for i in range(base, min(count, base + size))])
        return count / (time.perf_counter() - start)
    finally:
        await store.close()


def measure(backend: str, count: int, repeat: int) -> dict[str, float]:
    figures: dict[str, list[float]] = {k: [] for k in ("raw", "batch", "single", "stream", "acked")}
    for _ in range(repeat):
        with fresh_db() as url:
            figures["raw"].append(raw_insert(url, count))
        with fresh_db() as url:
            figures["batch"].append(anyio.run(store_batches, url, count, BATCH, backend=backend))
        with fresh_db() as url:
            n = min(count, 2000)
            figures["single"].append(anyio.run(store_batches, url, n, 1, backend=backend))
        with fresh_db() as url:
            figures["stream"].append(anyio.run(stream, url, count, backend=backend))
        with fresh_db() as url:
            figures["acked"].append(anyio.run(acked, url, count, backend=backend))
    return {name: median(values) for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", default="both", choices=["asyncio", "trio", "both"])
    args = parser.parse_args()
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    print(f"durable enqueue on PostgreSQL, {args.runs} runs, median of {args.repeat}")
    for backend in backends:
        m = measure(backend, args.runs, args.repeat)
        raw = m["raw"]
        print(
            f"{backend:8} raw psycopg {raw:8,.0f}/s | store batch500 {m['batch']:8,.0f}/s "
            f"({m['batch'] / raw:.0%}) | store single {m['single']:6,.0f}/s | scheduler stream "
            f"{m['stream']:8,.0f}/s ({m['stream'] / raw:.0%}) | 50 producers acked "
            f"{m['acked']:7,.0f}/s ({m['acked'] / raw:.0%})"
        )


if __name__ == "__main__":
    main()
