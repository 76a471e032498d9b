"""CronTrigger in a real Runtime on a real SQLite file, driven by a ManualClock."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from stargraph.errors import ConfigError, StargraphRuntimeError, TriggerNotFound
from stargraph.hosting import PluginState
from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, GraphRegistry, Scheduler
from stargraph.store import open_store
from stargraph.testing import ManualClock
from stargraph.triggers import Trigger
from stargraph.triggers.control import ControllableTrigger
from stargraph.triggers.cron import CronSpec, CronTrigger

from .conftest import T0, Recorder, cron_of, cron_runtime, runs_of, wait_for

S = timedelta(seconds=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """The same scenario on both stores (PostgreSQL skips when unreachable)."""
    if request.param == "sqlite":
        return sqlite_url
    return str(request.getfixturevalue("postgres_url"))


def every10(tid: str = "c", schedule: str = "* * * * * */10", **kw: object) -> CronSpec:
    return CronSpec(trigger_id=tid, schedule=schedule, graph_id="g", **kw)  # type: ignore[arg-type]


def skipped(rt: Runtime, tid: str) -> float:
    value = rt.metrics.registry.get_sample_value(
        "stargraph_cron_fires_skipped_total", {"trigger_id": tid}
    )
    return value or 0.0


async def advance(clock: ManualClock, seconds: float) -> None:
    """Move the clock once every task is blocked (the loop asleep until its next fire)."""
    await wait_all_tasks_blocked()
    clock.advance(seconds)


async def test_fires_each_planned_instant_once_with_its_key(sqlite_url: str) -> None:
    clock, rec = ManualClock(T0), Recorder()
    async with cron_runtime(sqlite_url, [every10(params={"feed": "nvd"})], clock, rec) as rt:
        assert isinstance(cron_of(rt), Trigger) and isinstance(cron_of(rt), ControllableTrigger)
        for _ in range(3):
            await advance(clock, 10)
        await wait_for(lambda: _count(rt, 3, finished=True))
        runs = await runs_of(rt.store, "c")
        assert [r.scheduled_fire for r in runs] == [T0 + 10 * S, T0 + 20 * S, T0 + 30 * S]
        assert [r.idempotency_key for r in runs] == [
            f"cron:c:{(T0 + k * 10 * S).isoformat()}" for k in (1, 2, 3)
        ]
        assert {(r.trigger_source, r.trigger_id, r.graph_id) for r in runs} == {("cron", "c", "g")}
        assert all(r.params == {"feed": "nvd"} for r in runs)
        planned = [r.scheduled_fire for r in runs]
        assert sorted(c.scheduled_fire or T0 for c in rec.contexts) == planned
        state = await rt.store.get_trigger_state("c")
        assert state is not None and state.cursor == T0 + 30 * S
        [info] = await cron_of(rt).describe()
        assert (info.kind, info.last_fire, info.next_fire) == ("cron", T0 + 30 * S, T0 + 40 * S)
        lag = rt.metrics.registry.get_sample_value(
            "stargraph_cron_fire_lag_seconds_count", {"trigger_id": "c"}
        )
        assert lag == 3


async def _count(rt: Runtime, n: int, tid: str | None = None, finished: bool = False) -> bool:
    runs = await runs_of(rt.store, tid)
    return len(runs) >= n and (not finished or all(r.finished for r in runs))


POLICIES: dict[str, dict[str, object]] = {
    "skip": {"missed_fire_policy": "skip"},
    "once": {"missed_fire_policy": "fire_once_catchup"},
    "all": {"missed_fire_policy": "fire_all"},
    "window": {"missed_fire_policy": "fire_all", "catchup_window": timedelta(minutes=25)},
}


def ten_minutes(tid: str, **kw: object) -> CronSpec:
    return CronSpec(trigger_id=tid, schedule="*/10 * * * *", graph_id="g", **kw)  # type: ignore[arg-type]


async def test_each_missed_fire_policy_after_downtime(store_url: str) -> None:
    store = open_store(store_url)
    await store.open()
    for tid in POLICIES:
        await store.set_trigger_cursor(tid, T0, now=T0)
    await store.close()
    clock = ManualClock(T0 + timedelta(minutes=65))  # down for 65 minutes: six fires missed
    specs = [ten_minutes(tid, **kw) for tid, kw in POLICIES.items()]
    async with cron_runtime(store_url, specs, clock) as rt:
        await wait_for(lambda: _count(rt, 1 + 6 + 3))
        await anyio.sleep(0.1)
        fires = {tid: [r.scheduled_fire for r in await runs_of(rt.store, tid)] for tid in POLICIES}
        m = timedelta(minutes=1)
        assert fires == {
            "skip": [],
            "once": [T0 + 60 * m],
            "all": [T0 + k * 10 * m for k in range(1, 7)],
            "window": [T0 + 40 * m, T0 + 50 * m, T0 + 60 * m],
        }
        assert {tid: skipped(rt, tid) for tid in POLICIES} == {
            "skip": 6,
            "once": 5,
            "all": 0,
            "window": 3,
        }
        for tid in POLICIES:
            state = await rt.store.get_trigger_state(tid)
            assert state is not None and state.cursor == T0 + 60 * m, tid
        await advance(clock, 5 * 60)  # the next planned fire runs normally for every policy
        await wait_for(lambda: _count(rt, 10 + 4))
        for tid in POLICIES:
            assert (await runs_of(rt.store, tid))[-1].scheduled_fire == T0 + 70 * m


async def test_first_deploy_starts_from_now_and_persists_the_cursor(sqlite_url: str) -> None:
    clock = ManualClock(T0 + 5 * S)
    hourly = CronSpec(
        trigger_id="h", schedule="@hourly", graph_id="g", missed_fire_policy="fire_all"
    )
    async with cron_runtime(sqlite_url, [hourly], clock) as rt:

        async def persisted() -> bool:
            state = await rt.store.get_trigger_state("h")
            return state is not None and state.cursor == T0 + 5 * S

        await wait_for(persisted)
        assert await runs_of(rt.store) == []
    clock.advance(timedelta(hours=2))  # down across two planned fires
    async with cron_runtime(sqlite_url, [hourly], clock) as rt:
        await wait_for(lambda: _count(rt, 2))
        assert [r.scheduled_fire for r in await runs_of(rt.store)] == [
            T0 + timedelta(hours=1),
            T0 + timedelta(hours=2),
        ]


async def test_pause_and_resume_are_persisted_and_resume_has_no_burst(store_url: str) -> None:
    clock = ManualClock(T0)
    async with cron_runtime(store_url, [every10()], clock) as rt:
        info = await cron_of(rt).pause("c", note="maintenance")
        assert (info.paused, info.note, info.next_fire) == (True, "maintenance", None)
        for _ in range(6):
            await advance(clock, 10)
        await anyio.sleep(0.1)
        assert await runs_of(rt.store) == []
    async with cron_runtime(store_url, [every10()], clock) as rt:  # a restart stays paused
        [info] = await cron_of(rt).describe()
        assert info.paused and info.note == "maintenance"
        await advance(clock, 10)
        await anyio.sleep(0.1)
        assert await runs_of(rt.store) == []
        info = await cron_of(rt).resume("c")
        assert (info.paused, info.last_fire, info.next_fire) == (False, T0 + 70 * S, T0 + 80 * S)
        await anyio.sleep(0.1)
        assert await runs_of(rt.store) == []  # nothing from the paused minute
        await advance(clock, 10)
        await wait_for(lambda: _count(rt, 1))
        assert [r.scheduled_fire for r in await runs_of(rt.store)] == [T0 + 80 * S]


async def test_fire_now_enqueues_a_distinct_run_even_while_paused(sqlite_url: str) -> None:
    clock = ManualClock(T0)
    async with cron_runtime(sqlite_url, [every10()], clock) as rt:
        trig = cron_of(rt)
        await trig.pause("c")
        first, second = await trig.fire("c"), await trig.fire("c")
        assert first.run_id != second.run_id and not first.deduplicated
        run = await rt.scheduler.get_run(first.run_id)
        assert run.trigger_source == "cron" and run.trigger_id == "c"
        assert run.idempotency_key.startswith("cron:c:manual:")
        assert run.scheduled_fire == T0
        state = await rt.store.get_trigger_state("c")
        assert state is None or state.cursor in (None, T0)  # fire-now never moves the cursor
        with pytest.raises(TriggerNotFound):
            await trig.fire("nope")
        with pytest.raises(TriggerNotFound):
            await trig.pause("nope")


async def test_clock_jumps_apply_the_policy_and_never_refire(sqlite_url: str) -> None:
    clock = ManualClock(T0)
    async with cron_runtime(sqlite_url, [every10()], clock) as rt:
        await advance(clock, 10)
        await wait_for(lambda: _count(rt, 1))
        clock.set(T0 + timedelta(hours=1))  # forward: 358 fires missed in the jump
        await wait_for(lambda: _count(rt, 3))
        await anyio.sleep(0.1)
        fires = [r.scheduled_fire for r in await runs_of(rt.store)]
        # fire_once_catchup runs the latest fire older than the 10 s grace, then the on-time one
        assert fires == [T0 + 10 * S, T0 + 3590 * S, T0 + 3600 * S]
        assert skipped(rt, "c") == 357
        clock.set(T0 + timedelta(minutes=30))  # backward: nothing fires twice
        for _ in range(3):
            await advance(clock, 10)
        await anyio.sleep(0.1)
        assert len(await runs_of(rt.store)) == 3
        clock.set(T0 + 3610 * S)
        await wait_for(lambda: _count(rt, 4))
        assert (await runs_of(rt.store))[-1].scheduled_fire == T0 + 3610 * S


async def test_two_runtimes_on_one_store_make_one_run_per_fire(store_url: str) -> None:
    clock = ManualClock(T0)
    specs = [every10("a"), every10("b", schedule="* * * * * */5")]
    async with (
        cron_runtime(store_url, specs, clock) as one,
        cron_runtime(store_url, specs, clock) as two,
    ):
        for _ in range(6):
            await advance(clock, 5)
        await wait_for(lambda: _count(one, 3 + 6))
        await anyio.sleep(0.2)
        runs = await runs_of(one.store)
        keys = [r.idempotency_key for r in runs]
        assert len(keys) == len(set(keys)) == 9
        dedup = sum(
            rt.metrics.registry.get_sample_value(
                "stargraph_runs_deduplicated_total", {"graph_id": "g", "trigger_source": "cron"}
            )
            or 0
            for rt in (one, two)
        )
        assert dedup == 9  # each fire was enqueued by both; the store kept one


# -- init validation --------------------------------------------------------------------------


def _deps(specs: object, *graphs: str) -> dict[str, object]:
    registry = GraphRegistry([Graph(graph_id=g, fn=Recorder()) for g in graphs])
    return {
        "cron_specs": specs,
        "scheduler": Scheduler(open_store("sqlite:///unused.db"), registry),
    }


def test_init_rejects_unknown_graphs_and_duplicate_ids() -> None:
    with pytest.raises(
        ConfigError,
        match=r"cron trigger 'c': graph_id 'g' is not a registered "
        r"graph \(registered: other\)",
    ):
        CronTrigger().init(_deps([every10()], "other"))
    with pytest.raises(ConfigError, match="'c' is defined twice"):
        CronTrigger().init(_deps([every10(), every10()], "g"))
    with pytest.raises(ConfigError, match="not a CronSpec"):
        CronTrigger().init(_deps([{"trigger_id": "c"}], "g"))
    with pytest.raises(StargraphRuntimeError, match=r"requires deps\['scheduler'\]"):
        CronTrigger().init({"cron_specs": [every10()]})


async def test_no_specs_is_a_silent_no_op() -> None:
    trig = CronTrigger()
    trig.init({})
    await trig.start()
    assert trig.trigger_ids() == [] and trig.routes() == []
    assert await trig.describe() == []
    trig.stop()


async def test_unknown_graph_fails_the_cron_plugin_only(sqlite_url: str) -> None:
    spec = CronSpec(trigger_id="c", schedule="* * * * *", graph_id="missing")
    async with cron_runtime(sqlite_url, [spec], ManualClock(T0)) as rt:
        [status] = [s for s in rt.host.statuses() if s.name.endswith(":cron")]
        assert status.state in (PluginState.failed, PluginState.load_failed)
        assert "cron trigger 'c': graph_id 'missing'" in (status.error or "")
        assert rt.ready


async def test_a_pause_stored_by_another_process_is_adopted(sqlite_url: str) -> None:
    clock = ManualClock(T0)
    async with (
        cron_runtime(sqlite_url, [every10()], clock) as one,
        cron_runtime(sqlite_url, [every10()], clock) as two,
    ):
        await cron_of(one).pause("c")  # `two` learns of it at its next refresh (30 s)
        await advance(clock, 30)
        await anyio.sleep(0.2)
        before = len(await runs_of(two.store))
        [info] = await cron_of(two).describe()
        assert info.paused
        for _ in range(3):
            await advance(clock, 10)
        await anyio.sleep(0.1)
        assert len(await runs_of(two.store)) == before
        await cron_of(one).resume("c")
        await advance(clock, 30)  # refresh: `two` resumes from the stored cursor (no burst)
        await wait_for(lambda: _count(two, before + 1))
        fires = [r.scheduled_fire for r in await runs_of(two.store)][before:]
        assert fires and all(f and f > T0 + 60 * S for f in fires)


async def test_many_triggers_share_one_metrics_label(sqlite_url: str) -> None:
    clock = ManualClock(T0)
    specs = [every10(f"m{i}") for i in range(1001)]
    async with cron_runtime(sqlite_url, specs, clock) as rt:
        await advance(clock, 10)
        await wait_for(lambda: _count(rt, 1001), timeout=20)

        def lag_count(label: str) -> float:
            value = rt.metrics.registry.get_sample_value(
                "stargraph_cron_fire_lag_seconds_count", {"trigger_id": label}
            )
            return value or 0.0

        with anyio.fail_after(10):
            while lag_count("_all") < 1001:
                await anyio.sleep(0.05)
        assert lag_count("m0") == 0
