"""A same-second burst: the cron loop hands it to the scheduler with ``emit_many`` in chunks
(one receipt per chunk), every fire is enqueued exactly once with its cursor, and a fire that
cannot be made is refused alone."""

from __future__ import annotations

import logging
from datetime import timedelta

import anyio
import pytest

from stargraph.runtime import Runtime
from stargraph.testing import ManualClock
from stargraph.triggers import MAX_KEY_LENGTH
from stargraph.triggers.cron import CronSpec

from .conftest import T0, counting, cron_runtime, runs_of, wait_for

BURST = 600  # three chunks of the loop's 256


def _lags_observed(rt: Runtime) -> float:
    """Lag observations over every trigger label (one collect, not one lookup per label)."""
    (family,) = rt.metrics.cron_fire_lag.collect()
    return sum(s.value for s in family.samples if s.name.endswith("_count"))


async def test_a_burst_is_enqueued_in_chunks_each_fire_once(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(T0)
    every10 = "* * * * * */10"
    specs = [CronSpec(trigger_id=f"b{i}", schedule=every10, graph_id="g") for i in range(BURST)]
    # A spec whose fire keys are too long is refused when built; one that got past (its id set
    # afterwards) has every fire refused alone, the rest of its chunk still goes in one call.
    too_long = "x" * MAX_KEY_LENGTH
    slipped = CronSpec(trigger_id="short", schedule=every10, graph_id="g")
    object.__setattr__(slipped, "trigger_id", too_long)
    specs.append(slipped)
    caplog.set_level(logging.ERROR, "stargraph.triggers.cron")
    async with cron_runtime(sqlite_url, specs, clock) as rt:
        calls = counting(rt)
        while clock.sleepers < 2:  # the scheduling loop and the refresh loop
            await anyio.sleep(0.005)
        clock.advance(timedelta(seconds=10))

        async def all_runs() -> bool:
            return len(await runs_of(rt.store)) >= BURST

        await wait_for(all_runs, timeout=20)
        await wait_for(lambda: _async(_lags_observed(rt) == BURST))
        runs = await runs_of(rt.store)
        states = {st.trigger_id: st.cursor for st in await rt.store.list_trigger_states()}
    assert calls.calls == {"emit_many": 3}  # 256 + 256 + 88 fires, one call (and receipt) each
    assert len(calls.attempts) == BURST and set(calls.attempts.values()) == {1}
    assert sorted(r.trigger_id or "" for r in runs) == sorted(f"b{i}" for i in range(BURST))
    assert {r.scheduled_fire for r in runs} == {T0 + timedelta(seconds=10)}
    assert all(states[f"b{i}"] == T0 + timedelta(seconds=10) for i in range(BURST))
    refused = [r for r in caplog.records if getattr(r, "event", "") == "cron.fire.refused"]
    errors = [(r.getMessage(), getattr(r, "stargraph", {})) for r in caplog.records]
    assert len(refused) == 1 and len(errors) == 1, errors  # nothing else went wrong
    assert "at most 512 characters" in refused[0].stargraph["error"]
    skipped = rt.metrics.registry.get_sample_value(
        "stargraph_cron_fires_skipped_total", {"trigger_id": too_long}
    )
    assert skipped == 1


async def _async(value: bool) -> bool:
    return value
