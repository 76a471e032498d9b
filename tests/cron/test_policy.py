"""Missed-fire policies as pure functions of (cursor, now)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stargraph.triggers.cron import CronSpec
from stargraph.triggers.cron.policy import COUNT_CAP, CatchUp, count_between, next_fire, plan_missed
from stargraph.triggers.cron.schedule import to_epoch

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
E0 = to_epoch(T0)
MIN = 60


def spec(policy: str, **kw: object) -> CronSpec:
    return CronSpec(
        trigger_id="p", schedule="*/10 * * * *", graph_id="g", missed_fire_policy=policy, **kw
    )  # type: ignore[arg-type]


NOW = E0 + 65 * MIN  # fires missed: +10 .. +60 (six)


def test_skip_runs_nothing_and_moves_the_cursor() -> None:
    assert plan_missed(spec("skip"), E0, NOW) == CatchUp(skipped=6, cursor=E0 + 60 * MIN)


def test_fire_once_catchup_runs_the_latest() -> None:
    assert plan_missed(spec("fire_once_catchup"), E0, NOW) == CatchUp(
        fires=(E0 + 60 * MIN,), skipped=5
    )


def test_fire_all_runs_every_missed_fire_oldest_first() -> None:
    plan = plan_missed(spec("fire_all"), E0, NOW)
    assert plan == CatchUp(fires=tuple(E0 + k * 10 * MIN for k in range(1, 7)), skipped=0)


def test_fire_all_skips_fires_older_than_the_window() -> None:
    plan = plan_missed(spec("fire_all", catchup_window=timedelta(minutes=25)), E0, NOW)
    assert plan == CatchUp(fires=(E0 + 40 * MIN, E0 + 50 * MIN, E0 + 60 * MIN), skipped=3)


def test_a_latest_fire_outside_the_window_is_skipped_too() -> None:
    for policy in ("fire_once_catchup", "fire_all"):
        plan = plan_missed(spec(policy, catchup_window=timedelta(minutes=4)), E0, NOW)
        assert plan == CatchUp(skipped=6, cursor=E0 + 60 * MIN)


@pytest.mark.parametrize("policy", ["skip", "fire_once_catchup", "fire_all"])
def test_nothing_missed_means_nothing_to_do(policy: str) -> None:
    assert plan_missed(spec(policy), E0 + 60 * MIN, NOW) == CatchUp()
    assert plan_missed(spec(policy), E0 + 61 * MIN, NOW) == CatchUp()
    assert plan_missed(spec(policy), NOW + 3600, NOW) == CatchUp()  # cursor ahead of the clock


def test_a_cursor_between_fires_and_a_fire_exactly_at_now() -> None:
    plan = plan_missed(spec("fire_all"), E0 + 5 * MIN, E0 + 30 * MIN)
    assert plan.fires == (E0 + 10 * MIN, E0 + 20 * MIN, E0 + 30 * MIN)


def test_end_at_and_start_at_bound_the_missed_fires() -> None:
    s = spec("fire_all", start_at=T0 + timedelta(minutes=25), end_at=T0 + timedelta(minutes=45))
    assert plan_missed(s, E0, NOW).fires == (E0 + 30 * MIN, E0 + 40 * MIN)
    once = spec("fire_once_catchup", end_at=T0 + timedelta(minutes=35))
    assert plan_missed(once, E0, NOW) == CatchUp(fires=(E0 + 30 * MIN,), skipped=2)
    assert next_fire(once, E0 + 30 * MIN) is None


def test_counting_is_capped() -> None:
    every = CronSpec(trigger_id="s", schedule="* * * * * *", graph_id="g")
    assert count_between(every, E0, E0 + 500, cap=100) == 100
    assert count_between(every, E0, E0 + 500) == 500


def test_long_downtime_of_an_every_second_schedule_is_cheap() -> None:
    every = CronSpec(
        trigger_id="s",
        schedule="* * * * * *",
        graph_id="g",
        missed_fire_policy="fire_once_catchup",
        catchup_window=timedelta(hours=1),
    )
    plan = plan_missed(every, E0, E0 + 86_400)
    assert plan.fires == (E0 + 86_400,)
    assert plan.skipped == COUNT_CAP  # 86,399 really: counted up to the cap
    assert plan.capped
