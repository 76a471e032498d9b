"""Scheduler.emit (a TriggerEvent in, a receipt out), TriggerSource, and the per-plugin view."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from stargraph.errors import InvalidParams, InvalidTriggerEvent, SchedulerClosed, UnknownGraph
from stargraph.scheduler import Graph, RunContext, Scheduler
from stargraph.scheduler.facade import PluginScheduler, scheduler_for_plugin
from stargraph.store import CursorAdvance, RunStore
from stargraph.triggers import MAX_KEY_LENGTH, Enqueuer, TriggerEvent, TriggerSource

from ._util import fast_settings

FIRE = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


async def echo(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"params": params}


def _event(key: str = "k1", **payload: Any) -> TriggerEvent:
    return TriggerEvent(trigger_id="t1", scheduled_fire=FIRE, idempotency_key=key, payload=payload)


def test_trigger_source_is_the_design_vocabulary() -> None:
    assert [s.value for s in TriggerSource] == [
        "manual",
        "cron",
        "interval",
        "webhook",
        "queue",
        "fs",
        "plugin",
    ]
    assert TriggerSource.cron == "cron" and str(TriggerSource.webhook) == "webhook"
    assert {s for s in TriggerSource if s.planned} == {TriggerSource.cron, TriggerSource.interval}


async def test_emit_records_the_event_as_a_run(store: RunStore) -> None:
    async with Scheduler(store, [Graph(graph_id="g", fn=echo)], settings=fast_settings()) as s:
        event = _event(day="mon")
        with anyio.fail_after(5):
            out = await s.emit(event, graph_id="g", source=TriggerSource.webhook)
            run = await s.wait_run(out.run_id)
            again = await s.emit(event, graph_id="g", source=TriggerSource.webhook)
    assert not out.deduplicated and again.deduplicated and again.run_id == out.run_id
    assert (run.trigger_id, run.idempotency_key, run.params) == ("t1", "k1", {"day": "mon"})
    assert run.trigger_source == "webhook" and type(run.trigger_source) is str
    assert run.scheduled_fire is None  # not a time-based source: no planned fire
    assert run.result == {"params": {"day": "mon"}}


async def test_emit_records_the_planned_fire_and_cursor_for_cron(store: RunStore) -> None:
    async with Scheduler(store, [Graph(graph_id="g", fn=echo)], settings=fast_settings()) as s:
        with anyio.fail_after(5):
            out = await s.emit(
                _event(),
                graph_id="g",
                source=TriggerSource.cron,
                cursor=CursorAdvance(trigger_id="t1", cursor=FIRE),
            )
            run = await s.wait_run(out.run_id)
    assert run.trigger_source == "cron" and run.scheduled_fire == FIRE
    state = await store.get_trigger_state("t1")
    assert state is not None and state.cursor == FIRE


async def test_emit_defaults_to_plugin_and_refuses_like_enqueue(store: RunStore) -> None:
    s = Scheduler(store, [Graph(graph_id="g", fn=echo)], settings=fast_settings())
    with pytest.raises(SchedulerClosed, match="new"):
        s.emit(_event(), graph_id="g")
    async with s:
        with pytest.raises(UnknownGraph, match="'nope'"):
            s.emit(_event(), graph_id="nope")
        with pytest.raises(InvalidParams, match="trigger_source must be one of manual, cron"):
            s.emit(_event(), graph_id="g", source="bogus")  # type: ignore[arg-type]
        with anyio.fail_after(5):
            run = await s.wait_run((await s.emit(_event(), graph_id="g")).run_id)
    assert run.trigger_source == "plugin"


async def test_enqueue_takes_sources_as_enum_or_string_and_refuses_others(
    store: RunStore,
) -> None:
    async with Scheduler(store, [Graph(graph_id="g", fn=echo)], settings=fast_settings()) as s:
        with anyio.fail_after(5):
            a = await s.submit("g", trigger_source=TriggerSource.fs)
            b = await s.submit("g", trigger_source="queue")
        with pytest.raises(InvalidParams, match="got 'custom'"):
            s.enqueue("g", trigger_source="custom")
        assert s.intake_depth() == 0
        runs = [await s.get_run(a.run_id), await s.get_run(b.run_id)]
    assert [r.trigger_source for r in runs] == ["fs", "queue"]


async def test_one_key_rule_for_events_and_enqueue(store: RunStore) -> None:
    longest, too_long = "k" * MAX_KEY_LENGTH, "k" * (MAX_KEY_LENGTH + 1)
    assert _event(longest).idempotency_key == longest
    with pytest.raises(InvalidTriggerEvent, match=f"at most {MAX_KEY_LENGTH} characters"):
        _event(too_long)
    async with Scheduler(store, [Graph(graph_id="g", fn=echo)], settings=fast_settings()) as s:
        with pytest.raises(InvalidParams, match=f"at most {MAX_KEY_LENGTH} characters"):
            s.enqueue("g", {}, too_long)
        with anyio.fail_after(5):
            assert not (await s.submit("g", {}, longest)).deduplicated


async def test_plugin_view_records_plugin_source_and_the_plugin_name(store: RunStore) -> None:
    async with Scheduler(store, [Graph(graph_id="g", fn=echo)], settings=fast_settings()) as s:
        view = scheduler_for_plugin(s, "acme:stargraph.triggers:poller")
        assert isinstance(view, PluginScheduler)
        enqueuer: Enqueuer = view
        assert enqueuer.graphs is s.graphs and enqueuer.store is s.store
        assert view.node_id == s.node_id  # everything else is the scheduler's own
        with anyio.fail_after(5):
            seed = await view.enqueue(graph_id="g", params={"n": 1}, idempotency_key="p1")
            named = await view.submit("g", {}, "p2", trigger_id="mine", trigger_source="cron")
            emitted = await view.emit(_event("p3"), graph_id="g")
            direct = await s.submit("g", {}, "p4")
        runs = [await s.get_run(o.run_id) for o in (seed, named, emitted, direct)]
    assert [(r.trigger_source, r.trigger_id) for r in runs] == [
        ("plugin", "acme:stargraph.triggers:poller"),
        ("cron", "mine"),
        ("plugin", "t1"),
        ("manual", None),
    ]


def test_non_schedulers_are_handed_over_unchanged() -> None:
    fake = object()
    assert scheduler_for_plugin(fake, "x") is fake
