"""Enqueue attempts per cron fire: pause + resume never enqueues an instant twice (issue 15,
defect 3), and a store outage backs the retries off with bounded log lines (issue 11,
defect 11) while every fire still ends as exactly one run."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from typing import Any

import anyio
import pytest

from stargraph.errors import StoreError
from stargraph.runtime import Runtime
from stargraph.testing import ManualClock
from stargraph.triggers.cron import CronSpec
from stargraph.triggers.cron.loop import RETRY_LOG_EVERY

from .conftest import T0, cron_of, cron_runtime, runs_of, wait_for
from .conftest import counting as cron_counting


async def _idle(clock: ManualClock) -> None:
    async def check() -> bool:
        await anyio.sleep(0.005)
        return clock.sleepers >= 2  # the scheduling loop and the refresh loop

    await wait_for(check)


async def test_pause_and_resume_within_an_interval_enqueue_each_fire_once(
    sqlite_url: str,
) -> None:
    clock = ManualClock(T0)
    spec = CronSpec(trigger_id="c", schedule="* * * * * */10", graph_id="g")
    async with cron_runtime(sqlite_url, [spec], clock) as rt:
        counting, trigger = cron_counting(rt), cron_of(rt)
        for seconds in (10, 20, 30):
            for _ in range(3):  # three pause + resume cycles within the interval
                await trigger.pause("c")
                await trigger.resume("c")
            await _idle(clock)
            clock.advance(timedelta(seconds=10))
            await wait_for(lambda s=seconds: _runs_up_to(rt, s))  # type: ignore[misc]
        await _idle(clock)
        assert sorted(counting.attempts.values()) == [1, 1, 1], counting.attempts
        fires = [r.scheduled_fire for r in await runs_of(rt.store, "c")]
        assert fires == [T0 + timedelta(seconds=s) for s in (10, 20, 30)]


async def _all_runs(rt: Runtime, seconds: int) -> bool:
    return len(await runs_of(rt.store, "c")) >= seconds


async def _runs_up_to(rt: Runtime, seconds: int) -> bool:
    fires = [r.scheduled_fire for r in await runs_of(rt.store, "c")]
    return T0 + timedelta(seconds=seconds) in fires


async def test_a_store_outage_backs_off_and_logs_bounded_lines(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(T0)
    spec = CronSpec(trigger_id="c", schedule="* * * * * *", graph_id="g")
    caplog.set_level(logging.INFO, logger="stargraph.triggers")
    outage = 120
    async with cron_runtime(sqlite_url, [spec], clock) as rt:
        counting = cron_counting(rt)
        real = rt.store.enqueue_batch

        async def full(requests: Any) -> Any:
            raise StoreError("database or disk is full")

        rt.store.enqueue_batch = full  # type: ignore[method-assign]
        for _ in range(outage):  # two minutes of one-second fires against a full disk
            await _idle(clock)
            clock.advance(timedelta(seconds=1))
        await _idle(clock)
        retried = sum(counting.attempts.values()) - outage
        rt.store.enqueue_batch = real  # type: ignore[method-assign]
        for _ in range(40):  # recovery: the backoff's cap (30 s) brings every fire back
            await _idle(clock)
            clock.advance(timedelta(seconds=1))
        await wait_for(lambda: _all_runs(rt, outage + 40))
        fires = Counter(r.scheduled_fire for r in await runs_of(rt.store, "c"))
    expected = {T0 + timedelta(seconds=s) for s in range(1, outage + 41)}
    assert set(fires) == expected and set(fires.values()) == {1}  # 0 missed, 0 doubled
    retries = [r for r in caplog.records if getattr(r, "event", "") == "cron.fire.retry"]
    assert len(retries) <= outage / RETRY_LOG_EVERY + 1  # one line per interval, not per fire
    assert sum(r.stargraph["failures"] for r in retries) >= outage  # type: ignore[attr-defined]
    assert retried < outage * 12  # backed off: without it, ~outage**2 / 2 (7,200) attempts
    assert [r for r in caplog.records if getattr(r, "event", "") == "cron.fire.recovered"]
