"""Interval triggers and overlap policies in a real Runtime on real stores (ManualClock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import anyio
import pytest

from stargraph.config import load_config
from stargraph.errors import ConfigError
from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, RunContext
from stargraph.store.base import RunStatus
from stargraph.testing import ManualClock
from stargraph.triggers.cron.interval import IntervalSpec, jitter_offset
from stargraph.triggers.cron.loop import fire_key
from stargraph.triggers.cron.schedule import to_epoch

from .conftest import T0, Recorder, cron_of, runs_of, wait_for

S = timedelta(seconds=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    return str(request.getfixturevalue("postgres_url"))


@asynccontextmanager
async def interval_runtime(
    url: str, specs: list[IntervalSpec], clock: ManualClock, fn: Any = None
) -> AsyncIterator[Runtime]:
    graphs = [Graph(graph_id="g", fn=fn or Recorder())]
    deps = {"interval_specs": specs}
    async with Runtime(url, graphs=graphs, deps=deps, clock=clock, graph_entry_points=False) as rt:
        yield rt


async def _n(rt: Runtime, n: int) -> bool:
    return len(await runs_of(rt.store)) >= n


async def test_fires_on_start_at_plus_k_every_once_with_its_key(store_url: str) -> None:
    clock = ManualClock(T0)
    spec = IntervalSpec(trigger_id="i", every="90s", graph_id="g", start_at=T0 + 30 * S)
    async with interval_runtime(store_url, [spec], clock) as rt:
        for _ in range(4):
            await anyio.sleep(0.02)
            clock.advance(60)
        await wait_for(lambda: _n(rt, 3))
        await anyio.sleep(0.1)
        runs = await runs_of(rt.store)
        fires = [T0 + 30 * S, T0 + 120 * S, T0 + 210 * S]
        assert [r.scheduled_fire for r in runs] == fires
        assert [r.idempotency_key for r in runs] == [f"interval:i:{f.isoformat()}" for f in fires]
        assert {r.trigger_source for r in runs} == {"interval"}
        [info] = await cron_of(rt).describe()
        assert (info.kind, info.last_fire, info.next_fire) == ("interval", fires[-1], T0 + 300 * S)


async def test_default_anchor_is_first_sight_and_persists_across_restarts(store_url: str) -> None:
    clock = ManualClock(T0)
    spec = IntervalSpec(trigger_id="i", every=100, graph_id="g")
    async with interval_runtime(store_url, [spec], clock) as rt:
        await wait_for(lambda: _anchor(rt))
        await anyio.sleep(0.02)
        clock.advance(100)
        await wait_for(lambda: _n(rt, 1))
    clock.set(T0 + 250 * S)  # restart: the phase stays T0 + k*100 (fire_once_catchup: 200)
    async with interval_runtime(store_url, [spec], clock) as rt:
        await wait_for(lambda: _n(rt, 2))
        await anyio.sleep(0.02)
        clock.advance(50)
        await wait_for(lambda: _n(rt, 3))
        runs = await runs_of(rt.store)
        assert [r.scheduled_fire for r in runs] == [T0 + 100 * S, T0 + 200 * S, T0 + 300 * S]
        state = await rt.store.get_trigger_state("i")
        assert state is not None and state.anchor == T0


async def _anchor(rt: Runtime) -> bool:
    state = await rt.store.get_trigger_state("i")
    return state is not None and state.anchor is not None


async def test_two_runtimes_on_one_store_make_one_run_per_fire(store_url: str) -> None:
    clock = ManualClock(T0)
    specs = [IntervalSpec(trigger_id="i", every=5, graph_id="g")]
    async with (
        interval_runtime(store_url, specs, clock) as one,
        interval_runtime(store_url, specs, clock) as two,
    ):
        for _ in range(6):
            await anyio.sleep(0.03)
            clock.advance(5)
        await wait_for(lambda: _n(one, 6))
        await anyio.sleep(0.2)
        keys = [r.idempotency_key for r in await runs_of(two.store)]
        assert len(keys) == len(set(keys)) == 6


def test_jitter_is_deterministic_and_bounded() -> None:
    offsets = [jitter_offset("i", f, 5) for f in range(1000)]
    assert offsets == [jitter_offset("i", f, 5) for f in range(1000)]
    assert set(offsets) == set(range(6))
    assert fire_key("i", 0, kind="interval") == "interval:i:1970-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every": 0}, "every 0s must be at least 1 second"),
        ({"every": -5}, "every -5s must be at least 1 second"),
        ({"every": "500ms"}, "every '500ms' is not a duration"),
        ({"every": 0.5}, "every 0.5 must be whole seconds"),
        ({"every": 10, "jitter": "10s"}, "jitter 10s must be >= 0 and shorter than every"),
        ({"every": 10, "overlap": "queue"}, "overlap 'queue' is not one of allow, skip"),
        ({"every": 10, "start_at": T0.replace(tzinfo=None)}, "start_at must be a timezone-aware"),
        ({"every": 10, "missed_fire_policy": "all"}, "missed_fire_policy 'all' is not one of"),
    ],
)
def test_bad_values_name_the_key_and_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        IntervalSpec(trigger_id="i", graph_id="g", **kwargs)


def test_toml_interval_table(tmp_path: Any) -> None:
    path = tmp_path / "stargraph.toml"
    path.write_text(
        '[[interval]]\ntrigger_id = "interval:sync"\nevery = "90s"\ngraph_id = "g"\n'
        'start_at = 2026-12-01T00:00:00Z\njitter = "5s"\noverlap = "skip"\n'
        '[[cron]]\ntrigger_id = "interval:sync"\nschedule = "@hourly"\ngraph_id = "g"\n'
    )
    with pytest.raises(ConfigError, match="duplicate value 'interval:sync'"):
        load_config(path)
    path.write_text('[[interval]]\ntrigger_id = "x"\nevery = "5ms"\ngraph_id = "g"\n')
    with pytest.raises(ConfigError, match=r"interval\[0\]\.every.*'5ms'"):
        load_config(path)
    path.write_text('[[interval]]\ntrigger_id = "x"\nevery = "2m"\ngraph_id = "g"\n')
    [spec] = load_config(path).interval
    assert spec.every == 120 * S and spec.overlap == "allow"


# -- overlap ------------------------------------------------------------------------------------


class Slow:
    """A graph that blocks until released (a long-running run)."""

    def __init__(self) -> None:
        self.release = anyio.Event()
        self.started: list[str] = []

    async def __call__(self, params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        self.started.append(ctx.run_id)
        await self.release.wait()
        return {}


@pytest.mark.parametrize("policy", ["allow", "skip", "buffer_one", "cancel_previous"])
async def test_overlap_policies_with_a_slow_graph(store_url: str, policy: str) -> None:
    clock, slow = ManualClock(T0), Slow()
    spec = IntervalSpec(trigger_id="i", every=10, graph_id="g", start_at=T0, overlap=policy)
    async with interval_runtime(store_url, [spec], clock, slow) as rt:
        await anyio.sleep(0.05)
        clock.advance(10)
        await wait_for(lambda: _started(slow, 1))  # the fire at T0+10 runs and blocks
        for k in (2, 3, 4):  # three more fires while it runs, each handled before the next
            clock.advance(10)
            await wait_for(lambda k=k: _cursor_at(rt, T0 + 10 * k * S))

        def skipped() -> float | None:
            return rt.metrics.registry.get_sample_value(
                "stargraph_trigger_fires_skipped_total", {"trigger_id": "i", "reason": "overlap"}
            )

        want = {"skip": 3.0, "buffer_one": 2.0}.get(policy)
        await wait_for(lambda: _true(skipped() == want))  # counted just after the commit
        runs = await runs_of(rt.store)
        statuses = [r.status for r in runs]
        state = await rt.store.get_trigger_state("i")
        assert state is not None and state.cursor == T0 + 40 * S  # the cursor always advances
        if policy == "allow":
            assert len(runs) == 4 and skipped() is None
        elif policy == "skip":
            assert statuses == [RunStatus.running] and skipped() == 3
        elif policy == "buffer_one":
            assert statuses == [RunStatus.running, RunStatus.pending] and skipped() == 2
            assert len(slow.started) == 1  # the buffered run waits for the running one
            slow.release.set()
            await wait_for(lambda: _started(slow, 2))
            assert slow.started[1] == runs[1].run_id
        else:
            assert len(runs) == 4 and skipped() is None
            await wait_for(lambda: _cancel_requested(rt, runs[0].run_id))
        slow.release.set()


async def _true(value: bool) -> bool:
    return value


async def _cursor_at(rt: Runtime, when: Any) -> bool:
    state = await rt.store.get_trigger_state("i")
    return state is not None and state.cursor == when


async def _started(slow: Slow, n: int) -> bool:
    return len(slow.started) >= n


async def _cancel_requested(rt: Runtime, run_id: str) -> bool:
    run = await rt.store.get_run(run_id)
    return run is not None and (run.cancel_requested or run.status is RunStatus.cancelled)


def test_start_at_phase_is_integer_seconds() -> None:
    spec = IntervalSpec(trigger_id="i", every="1d", graph_id="g", start_at=T0)
    sched = spec.compiled
    assert sched.next_after(to_epoch(T0)) == to_epoch(T0) + 86400
    assert sched.latest_at_or_before(to_epoch(T0) + 86399, to_epoch(T0)) == to_epoch(T0)


def test_backfill_plan_is_bounded_and_ordered() -> None:
    from stargraph.errors import InvalidParams
    from stargraph.triggers.cron.backfill import BACKFILL_LIMIT, plan_fires

    spec = IntervalSpec(trigger_id="i", every=60, graph_id="g", start_at=T0)
    fires = plan_fires(spec, T0, T0 + timedelta(hours=1))
    assert len(fires) == 61 and fires[0] == to_epoch(T0)
    with pytest.raises(InvalidParams, match=f"more than {BACKFILL_LIMIT} planned fires"):
        plan_fires(spec, T0, T0 + timedelta(days=30))
    with pytest.raises(InvalidParams, match="is after to"):
        plan_fires(spec, T0 + S, T0)
    with pytest.raises(InvalidParams, match="from must be a timezone-aware"):
        plan_fires(spec, T0.replace(tzinfo=None), T0)


async def test_interval_backfill_twice_creates_nothing_the_second_time(store_url: str) -> None:
    clock = ManualClock(T0 + 3600 * S)
    spec = IntervalSpec(trigger_id="i", every=600, graph_id="g", start_at=T0)
    async with interval_runtime(store_url, [spec], clock) as rt:
        first = await cron_of(rt).backfill("i", T0, T0 + 3600 * S)
        second = await cron_of(rt).backfill("i", T0, T0 + 3600 * S)
        assert (first.planned, first.enqueued, first.deduplicated) == (7, 7, 0)
        assert (second.enqueued, second.deduplicated) == (0, 7)
        runs = await runs_of(rt.store)
        assert len(runs) == 7 and all(r.backfill for r in runs)


async def test_the_backfill_plan_runs_off_the_event_loop(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planning up to 10,000 fires is CPU work (seconds for a yearly schedule over millennia):
    it runs in a worker thread, so other fires and requests go on meanwhile."""
    import threading

    from stargraph.triggers.cron import backfill
    from stargraph.triggers.cron.spec import CronSpec

    threads: list[threading.Thread] = []
    real = backfill.plan_fires

    def plan(*args: Any) -> list[int]:
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(backfill, "plan_fires", plan)
    spec = CronSpec(trigger_id="c:yearly", schedule="0 0 1 1 *", graph_id="g")
    graphs = [Graph(graph_id="g", fn=Recorder())]
    deps = {"cron_specs": [spec]}
    async with Runtime(
        store_url, graphs=graphs, deps=deps, clock=ManualClock(T0), graph_entry_points=False
    ) as rt:
        done = await cron_of(rt).backfill("c:yearly", T0, T0.replace(year=2036), dry_run=True)
    assert done.planned == 10
    assert threads and threads[0] is not threading.main_thread()
