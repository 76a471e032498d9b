"""What tracing costs the enqueue path: off, OpenTelemetry with no provider, and a real SDK.

Run: ``.venv/bin/python benchmarks/tracing_overhead.py [--runs 10000] [--repeat 5]
[--backend asyncio|trio|both]`` (needs ``stargraph[otel]`` and ``opentelemetry-sdk``).

Modes, measured back to back in every repeat on a fresh SQLite file each (WAL, FULL):

- ``off``: ``tracing = false`` -- the baseline; ``opentelemetry`` is never imported;
- ``api``: the default with ``opentelemetry-api`` installed but no tracer provider configured
  (what installing the extra costs an application that does not trace);
- ``sdk``: an SDK ``TracerProvider`` with a ``BatchSpanProcessor`` into an exporter that drops
  every batch (the full cost of recording the spans, without any I/O).

Two figures per mode: ``call``, CPU microseconds per synchronous ``scheduler.enqueue`` call
(``time.thread_time`` over ``--runs`` calls in a row with no await, so no commit runs meanwhile
and a loaded machine's preemption is not counted), and
``durable``, enqueues per second from the first call until every receipt is acknowledged
(intake, group commits of ``batch_size`` runs, receipts, commit spans). Both are medians, with
ratios against ``off`` measured in the same run. Only one execution slot, held by a blocking
run: claims stay idle.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.util._once import Once

from stargraph.scheduler import Graph, RunContext, Scheduler, SchedulerSettings
from stargraph.store import open_store

MODES = ("off", "api", "sdk")


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _provider(mode: str) -> TracerProvider | None:
    """Install the mode's global tracer provider (none for ``off`` and ``api``)."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]
    if mode != "sdk":
        return None
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Drop(), max_queue_size=1 << 16))
    trace.set_tracer_provider(provider)
    return provider


async def _block(params: dict[str, Any], ctx: RunContext) -> None:
    await anyio.sleep_forever()


async def stream(url: str, count: int, mode: str) -> tuple[float, float]:
    """``(µs per enqueue call, durable enqueues per second)`` for one producer."""
    store = open_store(url)
    await store.open()
    settings = SchedulerSettings(
        max_concurrent_runs=1, intake_capacity=max(count, 10_000), shutdown_grace=0,
        tracing=None if mode != "off" else False,
    )  # fmt: skip
    try:
        async with Scheduler(store, [Graph(graph_id="noop", fn=_block)], settings=settings) as s:
            await anyio.sleep(0.2)  # let the dispatcher's first claim settle
            start, cpu = time.perf_counter(), time.thread_time()
            receipts = [s.enqueue("noop", {"i": i}) for i in range(count)]  # no await: CPU only
            calls = time.thread_time() - cpu
            for receipt in receipts:
                await receipt
            elapsed = time.perf_counter() - start
    finally:
        await store.close()
    return calls / count * 1e6, count / elapsed


def measure(backend: str, count: int, repeat: int) -> dict[str, tuple[float, float]]:
    figures: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    for _ in range(repeat):
        for mode in MODES:
            provider = _provider(mode)
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{Path(tmp) / 's.db'}"
                figures[mode].append(anyio.run(stream, url, count, mode, backend=backend))
            if provider is not None:
                provider.shutdown()
    return {
        mode: (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
        for mode, values in figures.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", default="both", choices=["asyncio", "trio", "both"])
    args = parser.parse_args()
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    print(f"enqueue with tracing, {args.runs} runs, median of {args.repeat} (SQLite WAL, FULL)")
    for backend in backends:
        m = measure(backend, args.runs, args.repeat)
        off_call, off_rate = m["off"]
        for mode in MODES:
            call, rate = m[mode]
            print(
                f"{backend:8} {mode:4} call {call:6.2f} µs ({call / off_call:5.2f}x off) | "
                f"durable {rate:8,.0f}/s ({rate / off_rate:5.2f}x off)"
            )


if __name__ == "__main__":
    main()
