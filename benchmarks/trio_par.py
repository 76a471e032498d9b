"""trio against asyncio on the scheduler's SQLite figures, both measured in the same run.

Run: ``.venv/bin/python benchmarks/trio_par.py [--repeat 5] [--only hop,submit,...]``.
Before/after a change: alternate ``--repeat 1 --json before.jsonl`` runs with
``PYTHONPATH=<an export of the old tree>`` and ``--repeat 1 --json after.jsonl`` runs without.

Each repeat measures every figure on asyncio, then on trio, back to back; the table shows the
medians and **trio / asyncio** (higher is better for trio; for a latency the inverse, so ≥ 1
always means trio is at least as fast). Figures (SQLite WAL, ``synchronous=FULL``):

- ``hop_anyio``: a bare ``anyio.to_thread.run_sync(int)`` round trip (the floor of a store call
  through anyio's thread pool), calls/s;
- ``hop_store``: the same through the SQLite store's own :class:`~stargraph._thread.WorkerThread`
  (skipped on a tree without it), calls/s;
- ``submit``: sequential awaited ``scheduler.submit`` (one commit each), runs/s;
- ``stream``, ``acked``: ``enqueue_load.stream`` / ``acked`` (``scheduler_enqueue.py``), runs/s;
- ``burndown``: drain no-op runs at ``max_concurrent_runs=16`` (``scheduler_burndown.py``), runs/s;
- ``latency``: enqueue→start p50 on an idle scheduler (``scheduler_latency.py``), ms;
- ``http_post``: sequential ``POST /v1/runs`` of ``stargraph serve`` (``serve_http.py``), req/s,
  and ``http_healthz``, its ``GET /healthz`` in the same session (the HTTP stack's own ratio).

``NAME/cpu`` is the same work per CPU-second of this process (all threads): steadier than wall
clock on a shared box.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import trio  # noqa: F401  (imported before any timing: both backends run in one process)
from enqueue_load import acked, stream
from scheduler_burndown import burn, preload
from scheduler_latency import latencies

import stargraph.store.sqlite.store  # noqa: F401  (imported before any timing)
from stargraph.scheduler import Graph, RunContext, Scheduler, SchedulerSettings
from stargraph.store import open_store

HOPS = 3_000
SUBMITS = 500
ENQUEUES = 5_000
BURN = 2_000
SAMPLES = 100
HTTP = 100
BACKENDS = ("asyncio", "trio")


async def hop_anyio() -> float:
    limiter = anyio.CapacityLimiter(1)
    start = time.perf_counter()
    for _ in range(HOPS):
        await anyio.to_thread.run_sync(int, limiter=limiter)
    return HOPS / (time.perf_counter() - start)


async def hop_store() -> float:
    from stargraph._thread import WorkerThread

    thread = WorkerThread("bench")
    thread.start()
    try:
        start = time.perf_counter()
        for _ in range(HOPS):
            await thread.run(int)
        return HOPS / (time.perf_counter() - start)
    finally:
        thread.stop()


async def _block(params: dict[str, Any], ctx: RunContext) -> None:
    await anyio.sleep_forever()


async def submit(url: str, count: int) -> float:
    store = open_store(url)
    await store.open()
    settings = SchedulerSettings(max_concurrent_runs=1, shutdown_grace=0, poll_interval=1.0)
    try:
        async with Scheduler(store, [Graph(graph_id="g", fn=_block)], settings=settings) as s:
            await s.submit("g", {})  # the one run that holds the slot
            start = time.perf_counter()
            for i in range(count):
                await s.submit("g", {"i": i})
            return count / (time.perf_counter() - start)
    finally:
        await store.close()


def _timed(name: str, count: int, call: Callable[[], float]) -> dict[str, float]:
    """``{name: call()}`` and ``{name/cpu: count / CPU-s of this process (all threads)}``."""
    cpu = time.process_time()
    rate = call()
    return {name: rate, f"{name}/cpu": count / (time.process_time() - cpu)}


def _url(tmp: str) -> str:
    return f"sqlite:///{Path(tmp) / 'x.db'}"


def _store_figure(
    name: str, size: Callable[[], int], run: Callable[[str, int], Any]
) -> Callable[[str], dict[str, float]]:
    """A figure measured by ``anyio.run(run, url, count)`` on a fresh database; *size* gives
    the count when the figure is measured (the module's sizes are read then, not at import)."""

    def measure(backend: str) -> dict[str, float]:
        count = size()
        with tempfile.TemporaryDirectory() as tmp:
            return _timed(name, count, lambda: anyio.run(run, _url(tmp), count, backend=backend))

    return measure


def _burn(backend: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(preload, _url(tmp), BURN, backend=backend)
        return _timed(
            "burndown", BURN, lambda: anyio.run(burn, _url(tmp), BURN, 16, backend=backend)
        )


def _latency(backend: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        lags = anyio.run(latencies, Path(tmp) / "l.db", SAMPLES, 0, backend=backend)
    return {"latency": statistics.median(lags) * 1000}


def _http(backend: str) -> dict[str, float]:
    from serve_http import running_server, sequential

    with running_server(backend) as url:
        rates = sequential(url, HTTP, 1)
    return {"http_healthz": rates["healthz"][0], "http_post": rates["post_run"][0]}


def _hops(name: str, hop: Callable[[], Any]) -> Callable[[str], dict[str, float]]:
    return lambda backend: _timed(name, HOPS, lambda: anyio.run(hop, backend=backend))


LOWER_IS_BETTER = {"latency"}
FIGURES: dict[str, Callable[[str], dict[str, float]]] = {
    "hop_anyio": _hops("hop_anyio", hop_anyio),
    "hop_store": _hops("hop_store", hop_store),
    "submit": _store_figure("submit", lambda: SUBMITS, submit),
    "stream": _store_figure("stream", lambda: ENQUEUES, stream),
    "acked": _store_figure("acked", lambda: ENQUEUES, acked),
    "burndown": _burn,
    "latency": _latency,
    "http": _http,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default=",".join(FIGURES))
    parser.add_argument("--json", help="append every sample to this file (one JSON line each)")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeat):
        for name in names:
            for backend in BACKENDS:
                try:
                    values = FIGURES[name](backend)
                except ImportError:  # hop_store on a tree without stargraph._thread
                    continue
                for key, value in values.items():
                    samples.setdefault((key, backend), []).append(value)
                    if args.json:
                        with open(args.json, "a") as out:
                            out.write(json.dumps([key, backend, value]) + "\n")
    print(f"trio vs asyncio, SQLite WAL FULL, median of {args.repeat} (2 shared cores)")
    for key in dict.fromkeys(k for k, _ in samples):
        a, t = (statistics.median(samples[key, b]) for b in BACKENDS)
        ratio = a / t if key in LOWER_IS_BETTER else t / a
        print(f"{key:12} asyncio {a:10,.2f} | trio {t:10,.2f} | trio/asyncio {ratio:5.2f}")


if __name__ == "__main__":
    main()
