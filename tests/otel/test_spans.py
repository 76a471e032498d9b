"""Spans of a run through a real scheduler, on SQLite and PostgreSQL, asyncio and trio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from _settings import HANG_BOUND, settings
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from stargraph.scheduler import Graph, RunPolicy, Scheduler
from stargraph.store import RunStore, open_store
from stargraph.store.base import Run

from .conftest import named, tid

pytest.importorskip("opentelemetry.sdk", reason="install the test extra (opentelemetry-sdk)")
pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh store of each kind."""
    return str(request.getfixturevalue(f"{request.param}_url"))


async def _traced(params: dict[str, Any], ctx: Any) -> str:
    with trace.get_tracer("tests").start_as_current_span("graph.async"):
        return "ok"


def _traced_sync(params: dict[str, Any], ctx: Any) -> str:
    with trace.get_tracer("tests").start_as_current_span("graph.sync"):
        return "ok"


class Flaky(Exception):
    """The retryable error of the ``flaky`` graph."""


async def _flaky(params: dict[str, Any], ctx: Any) -> None:
    raise Flaky(f"attempt {ctx.attempt} failed")


async def _slow(params: dict[str, Any], ctx: Any) -> None:
    await anyio.sleep(HANG_BOUND)


GRAPHS = (
    Graph(graph_id="traced", fn=_traced),
    Graph(graph_id="slow", fn=_slow, policy=RunPolicy(timeout=0.05)),
    Graph(graph_id="traced_sync", fn=_traced_sync),
    Graph(
        graph_id="flaky",
        fn=_flaky,
        policy=RunPolicy(max_attempts=3, backoff_base=0, retry_on=(Flaky,)),
    ),
)


@asynccontextmanager
async def running(
    url: str, claim: tuple[str, ...] | None = None, **kw: Any
) -> AsyncIterator[tuple[Scheduler, RunStore]]:
    """A scheduler (claiming *claim* only, if given) on its own store at *url*."""
    store = open_store(url)
    await store.open()
    try:
        async with Scheduler(
            store, GRAPHS, settings=settings(**kw), claim_graphs=claim
        ) as scheduler:
            yield scheduler, store
    finally:
        await store.close()


async def _finish(scheduler: Scheduler, run_id: str) -> Run:
    with anyio.fail_after(HANG_BOUND):
        return await scheduler.wait_run(run_id)


def _parent_id(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def _linked(span: ReadableSpan) -> set[int]:
    return {link.context.span_id for link in span.links}


@pytest.mark.parametrize("graph_id", ["traced", "traced_sync"])
async def test_one_trace_per_run(
    store_url: str, spans: InMemorySpanExporter, graph_id: str
) -> None:
    async with running(store_url) as (scheduler, _):
        with trace.get_tracer("tests").start_as_current_span("caller") as caller:
            first = await scheduler.enqueue(graph_id, {"n": 1}, "key-1", trigger_id="t1")
            again = await scheduler.enqueue(graph_id, {"n": 1}, "key-1", trigger_id="t1")
        run = await _finish(scheduler, first.run_id)
    assert again.deduplicated and run.status == "succeeded"
    done = spans.get_finished_spans()
    enqueue, dedup = named(done, "stargraph.enqueue")
    (attempt,) = named(done, "stargraph.attempt")
    (inner,) = named(done, {"traced": "graph.async", "traced_sync": "graph.sync"}[graph_id])
    commits, (claim,) = named(done, "stargraph.commit"), named(done, "stargraph.claim")
    caller_ctx = caller.get_span_context()
    assert enqueue.kind is SpanKind.PRODUCER and attempt.kind is SpanKind.CONSUMER
    assert _parent_id(enqueue) == caller_ctx.span_id == _parent_id(dedup)
    assert enqueue.attributes == {
        "stargraph.graph_id": graph_id, "stargraph.idempotency_key": "key-1",
        "stargraph.trigger_source": "manual", "stargraph.trigger_id": "t1",
        "stargraph.enqueue.outcome": "inserted", "stargraph.deduplicated": False,
        "stargraph.run_id": first.run_id,
    }  # fmt: skip
    assert dedup.attributes is not None
    assert dedup.attributes["stargraph.enqueue.outcome"] == "deduplicated"
    assert dedup.attributes["stargraph.run_id"] == first.run_id
    # one trace: caller → enqueue → attempt → the graph's own span (in its thread, too)
    assert {tid(s) for s in (enqueue, dedup, attempt, inner)} == {caller_ctx.trace_id}
    assert _parent_id(attempt) == enqueue.context.span_id
    assert _parent_id(inner) == attempt.context.span_id
    assert attempt.attributes is not None
    assert attempt.attributes["stargraph.attempt.outcome"] == "succeeded"
    assert attempt.attributes["stargraph.run_id"] == first.run_id
    assert attempt.status.status_code is StatusCode.UNSET
    # the batch spans are traces of their own, linked to the runs they served
    assert all(tid(c) != caller_ctx.trace_id and c.parent is None for c in commits)
    assert enqueue.context.span_id in set().union(*(_linked(c) for c in commits))
    assert claim.parent is None and _linked(claim) == {enqueue.context.span_id}
    assert _linked(attempt) == {claim.context.span_id}


async def test_retries_and_failure(store_url: str, spans: InMemorySpanExporter) -> None:
    async with running(store_url) as (scheduler, _):
        done = await scheduler.enqueue("flaky")
        run = await _finish(scheduler, done.run_id)
    assert run.status == "failed" and run.attempt == 3
    finished = spans.get_finished_spans()
    (enqueue,) = named(finished, "stargraph.enqueue")
    attempts = named(finished, "stargraph.attempt")
    assert enqueue.parent is None  # no caller span: the enqueue starts the run's trace
    assert [a.attributes["stargraph.attempt"] for a in attempts if a.attributes] == [1, 2, 3]
    for number, attempt in enumerate(attempts, 1):
        assert _parent_id(attempt) == enqueue.context.span_id
        assert tid(attempt) == tid(enqueue)
        assert attempt.status.status_code is StatusCode.ERROR
        assert attempt.status.description == f"Flaky: attempt {number} failed"
        (event,) = attempt.events
        assert event.name == "exception" and event.attributes is not None
        assert event.attributes["exception.type"].endswith("Flaky")
        assert event.attributes["exception.message"] == f"attempt {number} failed"
        assert attempt.attributes is not None
        assert attempt.attributes["stargraph.attempt.outcome"] == "failed"


async def test_a_run_claimed_by_another_node_joins_the_stored_trace(
    store_url: str, spans: InMemorySpanExporter
) -> None:
    """Node A enqueues (it claims nothing) and stops; node B, its own store, runs it later."""
    async with running(store_url, claim=()) as (scheduler, store):
        with trace.get_tracer("tests").start_as_current_span("caller") as caller:
            done = await scheduler.enqueue("traced", {}, "later")
        stored = await store.get_run(done.run_id)
    assert stored is not None and stored.status == "pending" and stored.trace_context
    trace_hex = f"{caller.get_span_context().trace_id:032x}"
    assert stored.trace_context.startswith(f"00-{trace_hex}-")
    spans.clear()
    async with running(store_url) as (node_b, _):
        run = await _finish(node_b, done.run_id)
    assert run.status == "succeeded"
    (attempt,) = named(spans.get_finished_spans(), "stargraph.attempt")
    assert f"{tid(attempt):032x}" == trace_hex
    assert attempt.parent is not None and attempt.parent.is_remote
    assert stored.trace_context.split("-")[2] == f"{attempt.parent.span_id:016x}"


async def test_tracing_off_records_and_stores_nothing(
    store_url: str, spans: InMemorySpanExporter
) -> None:
    async with running(store_url, tracing=False) as (scheduler, _):
        with trace.get_tracer("tests").start_as_current_span("caller"):
            done = await scheduler.enqueue("traced")
        run = await _finish(scheduler, done.run_id)
    assert run.trace_context is None
    # only the test's own spans: the caller, and the graph's span (a root: no attempt span)
    assert sorted(s.name for s in spans.get_finished_spans()) == ["caller", "graph.async"]


async def test_a_timeout_is_an_error_with_its_exception(
    store_url: str, spans: InMemorySpanExporter
) -> None:
    async with running(store_url) as (scheduler, _):
        done = await scheduler.enqueue("slow")
        run = await _finish(scheduler, done.run_id)
    assert run.status == "failed"
    (attempt,) = named(spans.get_finished_spans(), "stargraph.attempt")
    assert attempt.attributes is not None
    assert attempt.attributes["stargraph.attempt.outcome"] == "timed_out"
    assert attempt.status.status_code is StatusCode.ERROR
    assert attempt.status.description == "TimeoutError: run exceeded its timeout of 0.05 s"
    assert [e.attributes["exception.type"] for e in attempt.events if e.attributes] == [
        "TimeoutError"
    ]


async def test_a_provider_set_after_start_up_is_used(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No provider at first: nothing stored, no span; once one is set, runs are traced from
    the next provider lookup on (``PROVIDER_RECHECK`` seconds at most)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from stargraph import _otel

    from .conftest import _reset_globals

    monkeypatch.setattr(_otel, "PROVIDER_RECHECK", 0.2)
    _reset_globals()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        async with running(sqlite_url) as (scheduler, _):
            before = await _finish(scheduler, (await scheduler.enqueue("traced")).run_id)
            trace.set_tracer_provider(provider)
            await anyio.sleep(0.25)
            after = await _finish(scheduler, (await scheduler.enqueue("traced")).run_id)
    finally:
        provider.shutdown()
        _reset_globals()
    assert before.trace_context is None and after.trace_context is not None
    (enqueue,) = named(exporter.get_finished_spans(), "stargraph.enqueue")
    (attempt,) = named(exporter.get_finished_spans(), "stargraph.attempt")
    assert attempt.attributes is not None and attempt.attributes["stargraph.run_id"] == after.run_id
    assert _parent_id(attempt) == enqueue.context.span_id


async def test_a_refused_enqueue_ends_its_span_with_the_error(
    sqlite_url: str, spans: InMemorySpanExporter
) -> None:
    from stargraph.errors import SchedulerBusy

    async with running(sqlite_url, intake_capacity=1) as (scheduler, _):
        first = scheduler.enqueue("traced")
        with pytest.raises(SchedulerBusy):
            scheduler.enqueue("traced")  # no checkpoint between: the intake is still full
        await _finish(scheduler, (await first).run_id)
    enqueues = named(spans.get_finished_spans(), "stargraph.enqueue")
    assert len(enqueues) == 2
    refused = [s for s in enqueues if s.status.status_code is StatusCode.ERROR]
    assert len(refused) == 1
    types = [e.attributes.get("exception.type", "") for e in refused[0].events if e.attributes]
    assert any("SchedulerBusy" in str(t) for t in types), types
