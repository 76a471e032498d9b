"""The cron refresh loop's error policy: a store error is logged and retried with backoff; it
never crashes (and so never crash-loops) the cron plugin, and the schedule keeps firing."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import anyio
import pytest

from stargraph.errors import StoreError
from stargraph.hosting import PluginState
from stargraph.runtime import Runtime
from stargraph.testing import ManualClock
from stargraph.triggers.cron import CronSpec
from stargraph.triggers.cron.loop import REFRESH_SECONDS

from .conftest import T0, cron_of, cron_runtime, runs_of, wait_for


def _cron_status(rt: Runtime) -> Any:
    [status] = [s for s in rt.host.statuses() if s.name.endswith(":cron")]
    return status


async def test_a_store_outage_backs_off_the_refresh_and_keeps_cron_running(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(T0)
    spec = CronSpec(trigger_id="c", schedule="* * * * * */10", graph_id="g")
    caplog.set_level(logging.WARNING, logger="stargraph.triggers")
    async with cron_runtime(sqlite_url, [spec], clock) as rt:
        real = rt.store.list_trigger_states
        calls: list[float] = []
        failing = True

        async def flaky() -> Any:
            calls.append((clock.now() - T0).total_seconds())
            if failing:
                raise StoreError("database is locked")
            return await real()

        rt.store.list_trigger_states = flaky  # type: ignore[method-assign]

        async def step_to(seconds: float) -> None:
            while clock.now() < T0 + timedelta(seconds=seconds):
                await wait_for(_sleeping(clock))
                clock.advance(timedelta(seconds=10))

        await step_to(REFRESH_SECONDS)  # first refresh fails: next try in 60 s, not 30
        await wait_for(_called(calls, 1))
        await step_to(REFRESH_SECONDS * 2)
        await step_to(REFRESH_SECONDS * 3)  # 30 + 60: the second try, fails again (next: 120)
        await wait_for(_called(calls, 2))
        failing = False
        await step_to(REFRESH_SECONDS * 7)  # 90 + 120: the third try works
        await wait_for(_called(calls, 3))
        await step_to(REFRESH_SECONDS * 8)  # back to the normal interval
        await wait_for(_called(calls, 4))
        assert calls == [30.0, 90.0, 210.0, 240.0]
        status = _cron_status(rt)
        assert status.state is PluginState.running and status.restarts == 0
        fires = [r.scheduled_fire for r in await runs_of(rt.store, "c")]
        assert T0 + timedelta(seconds=200) in fires  # fired all through the outage
        [info] = await cron_of(rt).describe()
        assert not info.paused
    failures = [r for r in caplog.records if getattr(r, "event", "") == "cron.refresh_failed"]
    assert [r.stargraph["retry_in"] for r in failures] == [60.0, 120.0]  # type: ignore[attr-defined]
    assert all("database is locked" in r.stargraph["error"] for r in failures)  # type: ignore[attr-defined]


def _sleeping(clock: ManualClock) -> Any:
    async def check() -> bool:
        await anyio.sleep(0.005)
        return clock.sleepers >= 2  # the scheduling loop and the refresh loop wait on it

    return check


def _called(calls: list[float], n: int) -> Any:
    async def check() -> bool:
        return len(calls) >= n

    return check
