"""Scheduler.emit_many: several TriggerEvents in, all or none, one receipt with one outcome per
event in order; cursors advance in the runs' transaction; the per-plugin view passes it on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from stargraph.errors import InvalidParams, SchedulerBusy, SchedulerClosed, UnknownGraph
from stargraph.scheduler import Graph, RunContext, Scheduler
from stargraph.scheduler.facade import scheduler_for_plugin
from stargraph.scheduler.receipt import BatchReceipt
from stargraph.store import RunStore
from stargraph.store.base import Enqueued, RunFilter
from stargraph.triggers import Enqueuer, TriggerEvent, TriggerSource

from ._util import fast_settings

FIRE = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


async def echo(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"params": params}


def _events(*triggers: str, **payload: Any) -> list[TriggerEvent]:
    return [
        TriggerEvent(
            trigger_id=t, scheduled_fire=FIRE, idempotency_key=f"cron:{t}:1", payload=payload
        )
        for t in triggers
    ]


def _graphs() -> list[Graph]:
    return [Graph(graph_id="g", fn=echo), Graph(graph_id="h", fn=echo)]


async def test_one_receipt_one_outcome_per_event_and_cursors_in_order(store: RunStore) -> None:
    events = _events("a", "b", "c", n=1)
    async with Scheduler(store, _graphs(), settings=fast_settings()) as s:
        with anyio.fail_after(5):
            receipt = s.emit_many(
                events, graph_id=["g", "h", "g"], source=TriggerSource.cron, cursors=True
            )
            assert isinstance(receipt, BatchReceipt)
            outcomes = await receipt
            again = await s.emit_many(events, graph_id=["g", "h", "g"], source=TriggerSource.cron)
            runs = [await s.wait_run(o.run_id) for o in outcomes if isinstance(o, Enqueued)]
    assert [type(o) for o in outcomes] == [Enqueued] * 3
    assert not any(o.deduplicated for o in outcomes if isinstance(o, Enqueued))
    assert [(o.run_id, o.deduplicated) for o in again if isinstance(o, Enqueued)] == [
        (o.run_id, True) for o in outcomes if isinstance(o, Enqueued)
    ]
    assert [(r.graph_id, r.trigger_id, r.idempotency_key) for r in runs] == [
        ("g", "a", "cron:a:1"),
        ("h", "b", "cron:b:1"),
        ("g", "c", "cron:c:1"),
    ]
    assert all(r.trigger_source == "cron" and r.scheduled_fire == FIRE for r in runs)
    assert all(r.params == {"n": 1} and r.result == {"params": {"n": 1}} for r in runs)
    states = {st.trigger_id: st.cursor for st in await store.list_trigger_states()}
    assert states == {"a": FIRE, "b": FIRE, "c": FIRE}


async def test_without_cursors_and_for_unplanned_sources(store: RunStore) -> None:
    async with Scheduler(store, _graphs(), settings=fast_settings()) as s:
        with anyio.fail_after(5):
            outcomes = await s.emit_many(_events("w1", "w2"), graph_id="g")
            webhook = await s.emit_many(_events("w3"), graph_id="h", source=TriggerSource.webhook)
            done = [o for o in [*outcomes, *webhook] if isinstance(o, Enqueued)]
            runs = [await s.get_run(o.run_id) for o in done]
    assert [(r.trigger_source, r.scheduled_fire) for r in runs] == [
        ("plugin", None),
        ("plugin", None),
        ("webhook", None),
    ]
    assert await store.list_trigger_states() == []


async def test_refusals_queue_nothing(store: RunStore) -> None:
    s = Scheduler(store, _graphs(), settings=fast_settings(intake_capacity=3))
    with pytest.raises(SchedulerClosed, match="new"):
        s.emit_many(_events("a"), graph_id="g")
    async with s:
        with pytest.raises(UnknownGraph, match="'nope'"):
            s.emit_many(_events("a", "b"), graph_id=["g", "nope"])
        with pytest.raises(InvalidParams, match="2 events but 1 graph ids"):
            s.emit_many(_events("a", "b"), graph_id=["g"])
        with pytest.raises(InvalidParams, match="trigger_source must be one of"):
            s.emit_many(_events("a"), graph_id="g", source="bogus")  # type: ignore[arg-type]
        with pytest.raises(SchedulerBusy):
            s.emit_many(_events("a", "b", "c", "d"), graph_id="g")  # more than the intake holds
        assert s.intake_depth() == 0
        with anyio.fail_after(5):
            assert await s.emit_many([], graph_id="g") == []
    assert (await store.list_runs(RunFilter(), limit=10, cursor=None)).items == []


async def test_the_plugin_view_passes_emit_many_on(store: RunStore) -> None:
    async with Scheduler(store, _graphs(), settings=fast_settings()) as s:
        view: Enqueuer = scheduler_for_plugin(s, "acme")  # type: ignore[assignment]
        with anyio.fail_after(5):
            (outcome,) = await view.emit_many(_events("p"), graph_id="g")
            assert isinstance(outcome, Enqueued)
            run = await s.get_run(outcome.run_id)
    assert (run.trigger_source, run.trigger_id) == ("plugin", "p")
