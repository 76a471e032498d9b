"""Execution: sync and async graphs, context, retries with backoff, timeouts, bad results."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from stargraph.errors import ConfigError
from stargraph.scheduler import Graph, RunContext, RunPolicy, Scheduler
from stargraph.store import RunStatus, RunStore

from ._util import fast_settings


class Flaky(Exception):
    """A retryable failure."""


async def test_sync_graph_runs_in_a_worker_thread(store: RunStore) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def work(params: dict[str, Any], ctx: RunContext) -> int:
        seen.append(threading.get_ident())
        time.sleep(0.05)  # blocking is fine here: this is a worker thread
        return int(params["x"]) * 2

    async with Scheduler(store, [Graph(graph_id="sync", fn=work)], settings=fast_settings()) as s:
        with anyio.fail_after(5):
            out = await s.submit("sync", {"x": 21})
            run = await s.wait_run(out.run_id)
    assert run.status is RunStatus.succeeded and run.result == 42
    assert seen and seen[0] != loop_thread


async def test_context_carries_the_run_fields(store: RunStore) -> None:
    contexts: list[RunContext] = []

    async def graph(params: dict[str, Any], ctx: RunContext) -> None:
        contexts.append(ctx)

    fire = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    async with Scheduler(store, [Graph(graph_id="g", fn=graph)], settings=fast_settings()) as s:
        with anyio.fail_after(5):
            out = await s.submit(
                "g",
                {},
                "k-ctx",
                trigger_id="webhook:gh",
                trigger_source="webhook",
                scheduled_fire=fire,
            )
            run = await s.wait_run(out.run_id)
    assert run.result is None and run.status is RunStatus.succeeded
    (ctx,) = contexts
    assert (ctx.run_id, ctx.graph_id, ctx.attempt) == (out.run_id, "g", 1)
    assert (ctx.trigger_id, ctx.trigger_source) == ("webhook:gh", "webhook")
    assert ctx.scheduled_fire == fire and ctx.idempotency_key == "k-ctx"


async def test_retries_with_exponential_backoff_then_succeeds(store: RunStore) -> None:
    attempts: list[tuple[int, float]] = []

    async def flaky(params: dict[str, Any], ctx: RunContext) -> str:
        attempts.append((ctx.attempt, time.monotonic()))
        if ctx.attempt < 3:
            raise Flaky(f"attempt {ctx.attempt} failed")
        return "ok"

    policy = RunPolicy(max_attempts=3, backoff_base=0.2, jitter=0.0)
    async with Scheduler(
        store, [Graph(graph_id="f", fn=flaky, policy=policy)], settings=fast_settings()
    ) as s:
        with anyio.fail_after(10):
            out = await s.submit("f")
            run = await s.wait_run(out.run_id)
    assert run.status is RunStatus.succeeded and run.result == "ok" and run.attempt == 3
    assert [a for a, _ in attempts] == [1, 2, 3]
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # 0.2 * 2**(n-1)
    assert gaps[1] > gaps[0]


async def test_retries_exhausted_or_not_retryable_fail(store: RunStore) -> None:
    calls: dict[str, int] = {"always": 0, "fatal": 0}

    async def always(params: dict[str, Any], ctx: RunContext) -> None:
        calls["always"] += 1
        raise Flaky("still broken")

    async def fatal(params: dict[str, Any], ctx: RunContext) -> None:
        calls["fatal"] += 1
        raise KeyError("missing")

    graphs = [
        Graph(
            graph_id="always",
            fn=always,
            policy=RunPolicy(max_attempts=2, backoff_base=0.01, retry_on=(Flaky,)),
        ),
        Graph(
            graph_id="fatal",
            fn=fatal,
            policy=RunPolicy(max_attempts=5, backoff_base=0.01, retry_on=(Flaky,)),
        ),
    ]
    async with Scheduler(store, graphs, settings=fast_settings()) as s:
        with anyio.fail_after(10):
            a = await s.wait_run((await s.submit("always")).run_id)
            f = await s.wait_run((await s.submit("fatal")).run_id)
    assert a.status is RunStatus.failed and a.attempt == 2
    assert a.error is not None and (a.error.type, a.error.message) == ("Flaky", "still broken")
    assert f.status is RunStatus.failed and f.attempt == 1
    assert f.error is not None and f.error.type == "KeyError"
    assert calls == {"always": 2, "fatal": 1}


async def test_timeout_fails_async_and_sync_graphs(store: RunStore) -> None:
    release = threading.Event()

    async def slow(params: dict[str, Any], ctx: RunContext) -> None:
        await anyio.sleep(30)

    def slow_sync(params: dict[str, Any], ctx: RunContext) -> None:
        release.wait(30)

    policy = RunPolicy(timeout=0.2)
    graphs = [
        Graph(graph_id="slow", fn=slow, policy=policy),
        Graph(graph_id="slow_sync", fn=slow_sync, policy=policy),
    ]
    try:
        async with Scheduler(store, graphs, settings=fast_settings()) as s:
            with anyio.fail_after(5):
                started = time.monotonic()
                a = await s.wait_run((await s.submit("slow")).run_id)
                b = await s.wait_run((await s.submit("slow_sync")).run_id)
                elapsed = time.monotonic() - started
    finally:
        release.set()
    for run in (a, b):
        assert run.status is RunStatus.failed
        assert run.error is not None and run.error.type == "TimeoutError"
        assert "0.2 s" in run.error.message
    assert elapsed < 3


async def test_timeout_is_retried_when_attempts_remain(store: RunStore) -> None:
    async def sometimes_slow(params: dict[str, Any], ctx: RunContext) -> int:
        if ctx.attempt == 1:
            await anyio.sleep(30)
        return ctx.attempt

    policy = RunPolicy(timeout=0.1, max_attempts=2, backoff_base=0.01)
    async with Scheduler(
        store, [Graph(graph_id="g", fn=sometimes_slow, policy=policy)], settings=fast_settings()
    ) as s:
        with anyio.fail_after(5):
            run = await s.wait_run((await s.submit("g")).run_id)
    assert run.status is RunStatus.succeeded and run.result == 2


async def test_non_json_result_fails_the_run(store: RunStore) -> None:
    async def bad(params: dict[str, Any], ctx: RunContext) -> object:
        return {"when": object()}

    async with Scheduler(store, [Graph(graph_id="bad", fn=bad)], settings=fast_settings()) as s:
        with anyio.fail_after(5):
            run = await s.wait_run((await s.submit("bad")).run_id)
    assert run.status is RunStatus.failed
    assert run.error is not None and run.error.type == "InvalidResult"
    assert "'bad'" in run.error.message


def test_backoff_grows_caps_and_jitters() -> None:
    policy = RunPolicy(backoff_base=1.0, backoff_max=10.0, jitter=0.1)
    assert policy.backoff(1, 0.5) == pytest.approx(1.0)
    assert policy.backoff(3, 0.5) == pytest.approx(4.0)
    assert policy.backoff(10, 0.5) == pytest.approx(10.0)
    assert policy.backoff(2, 0.0) == pytest.approx(1.8)
    assert policy.backoff(2, 0.999999) == pytest.approx(2.2, rel=1e-4)


def test_policy_validation_names_the_bad_value() -> None:
    with pytest.raises(ConfigError, match=r"max_attempts.*0"):
        RunPolicy(max_attempts=0)
    with pytest.raises(ConfigError, match=r"concurrency.*-1"):
        RunPolicy(concurrency=-1)
    with pytest.raises(ConfigError, match="timeout"):
        RunPolicy(timeout=0)
    with pytest.raises(ConfigError, match="retry_on"):
        RunPolicy(retry_on=("ValueError",))  # type: ignore[arg-type]
