"""Fire sequences around every 2026 DST transition, checked against cronsim (Debian's rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim
from hypothesis import given, settings
from hypothesis import strategies as st

from stargraph.triggers.cron import CronSpec, next_fires

from .test_schedule import EXPRS

# 2026 transitions (UTC instants), found with zoneinfo; Santiago, Havana and Beirut move at
# local midnight, Lord Howe by 30 minutes.
TRANSITIONS = {
    "America/New_York": ["2026-03-08T07:00", "2026-11-01T06:00"],
    "Europe/Berlin": ["2026-03-29T01:00", "2026-10-25T01:00"],
    "America/Santiago": ["2026-04-05T03:00", "2026-09-06T04:00"],
    "America/Havana": ["2026-03-08T05:00", "2026-11-01T05:00"],
    "Asia/Beirut": ["2026-03-28T22:00", "2026-10-24T21:00"],
    "Australia/Lord_Howe": ["2026-04-04T15:00", "2026-10-03T15:30"],
}
FIXED = [
    "30 2 * * *",
    "0 0 * * *",
    "30 1 * * *",
    "0 2 * * *",
    "15 2,3 * * *",
    "0,30 0-3 * * *",
    "59 23 * * *",
    "30 0 * * *",
    "45 1,2 * * *",
    "10 0-4/2 * * *",
]
WILDCARD = ["0 * * * *", "*/15 * * * *", "*/30 0-3 * * *", "5 */2 * * *", "* 2 * * *"]
EVERY_N = ["*/7 * * * *", "*/20 * * * *", "*/45 * * * *"]
CASES = [
    (tz, when, expr)
    for tz, whens in TRANSITIONS.items()
    for when in whens
    for expr in FIXED + WILDCARD + EVERY_N
]


def _is_wildcard(expr: str) -> bool:
    minute, hour = expr.split()[:2]
    return minute.startswith("*") or hour.startswith("*")


def _oracle(expr: str, tz: str, start: datetime, until: datetime) -> list[datetime]:
    """Debian's fires in (start, until].

    Fixed-time expressions: cronsim, which reproduces Debian's special handling. Wildcard
    expressions: the definition itself, minute by minute of real time ("a wildcard job follows
    the clock") with cronsim matching the naive wall times. cronsim's own wildcard iteration
    steps hours by 60 real minutes and can yield local times that do not exist, so it misses or
    mislabels fires around Lord Howe's 30-minute shift and Santiago's missing midnight.
    """
    zone = ZoneInfo(tz)
    if not _is_wildcard(expr):
        out = []
        for fire in CronSim(expr, start.astimezone(zone)):
            if fire > until:
                break
            out.append(fire.astimezone(UTC))
        return out
    lo = start.astimezone(zone).replace(tzinfo=None) - timedelta(hours=3)
    hi = until.astimezone(zone).replace(tzinfo=None) + timedelta(hours=3)
    naive: set[datetime] = set()
    for n in CronSim(expr, lo):
        if n > hi:
            break
        naive.add(n)
    t = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    fires = []
    while t <= until:
        if t.astimezone(zone).replace(tzinfo=None) in naive:
            fires.append(t)
        t += timedelta(minutes=1)
    return fires


def _ours(expr: str, tz: str, start: datetime, until: datetime, **kw: object) -> list[datetime]:
    spec = CronSpec(trigger_id="t", schedule=expr, tz=tz, graph_id="g", **kw)  # type: ignore[arg-type]
    out: list[datetime] = []
    while not out or out[-1] <= until:
        batch = next_fires(spec, out[-1] if out else start, 50)
        if not batch:
            break
        out.extend(batch)
    return [f for f in out if f <= until]


@pytest.mark.parametrize(("tz", "when", "expr"), CASES)
def test_matches_cronsim_across_transition(tz: str, when: str, expr: str) -> None:
    t = datetime.fromisoformat(when).replace(tzinfo=UTC)
    start, until = t - timedelta(hours=30), t + timedelta(hours=30)
    expected = _oracle(expr, tz, start, until)
    assert _ours(expr, tz, start, until) == expected
    assert len(expected) >= 2


def test_every_transition_listed_is_real() -> None:
    for tz, whens in TRANSITIONS.items():
        zone = ZoneInfo(tz)
        for when in whens:
            t = datetime.fromisoformat(when).replace(tzinfo=UTC)
            before = (t - timedelta(seconds=1)).astimezone(zone).utcoffset()
            assert before != t.astimezone(zone).utcoffset(), (tz, when)


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Europe/Berlin", "America/Santiago"])
@pytest.mark.parametrize(
    "expr",
    [
        "0 9 * * 1-5",
        "0 0 1 * *",
        "0 12 29 2 *",
        "*/10 8-18 * * mon-fri",
        "0 0 13 * 5",
        "0 0 1,15 * 0",
        "0 6 * jan,jul *",
        "30 4 */3 * *",
        "0 0 * * */2",
    ],
)
def test_matches_cronsim_over_a_year(tz: str, expr: str) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    until = datetime(2027, 1, 1, tzinfo=UTC) if "8-18" not in expr else start + timedelta(days=40)
    assert _ours(expr, tz, start, until) == _oracle(expr, tz, start, until)


def test_fall_back_both_fires_fixed_times_in_each_copy() -> None:
    start = datetime(2026, 10, 24, tzinfo=UTC)
    fires = _ours("30 2 * * *", "Europe/Berlin", start, start + timedelta(days=3), fall_back="both")
    local = [f.astimezone(ZoneInfo("Europe/Berlin")).isoformat() for f in fires]
    assert local == [
        "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_fall_back_first_is_the_default_and_fires_once() -> None:
    start = datetime(2026, 10, 24, tzinfo=UTC)
    fires = _ours("30 2 * * *", "Europe/Berlin", start, start + timedelta(days=3))
    assert [f.isoformat() for f in fires] == [
        "2026-10-24T00:30:00+00:00",
        "2026-10-25T00:30:00+00:00",
        "2026-10-26T01:30:00+00:00",
    ]


def test_restart_inside_the_overlap_never_repeats_an_instant() -> None:
    # Resuming from any cursor reproduces the same sequence (no instant twice, none lost).
    tz = "America/New_York"
    start = datetime(2026, 10, 31, 12, tzinfo=UTC)
    for expr in ["*/15 * * * *", "30 1 * * *", "*/10 1 * * *"]:
        full = _ours(expr, tz, start, start + timedelta(days=5))
        assert len(set(full)) == len(full)
        for i, cursor in enumerate(full[:-1]):
            spec = CronSpec(trigger_id="t", schedule=expr, tz=tz, graph_id="g")
            assert next(iter(next_fires(spec, cursor, 1))) == full[i + 1]
        # a cursor between fires (not itself a fire) resumes at the next fire
        for cursor in (full[1] + timedelta(seconds=30), full[-2] - timedelta(seconds=1)):
            spec = CronSpec(trigger_id="t", schedule=expr, tz=tz, graph_id="g")
            nxt = next_fires(spec, cursor, 1)[0]
            assert nxt == min(f for f in full if f > cursor)


def test_a_missing_midnight_is_never_a_wildcard_fire() -> None:
    # Santiago 2026-09-06: 00:00 -04 becomes 01:00 -03. Even hours on Sundays: 02:00 first.
    tz = ZoneInfo("America/Santiago")
    start = datetime(2026, 9, 6, 3, tzinfo=UTC)
    fires = _ours("0 */2 * * 0", "America/Santiago", start, start + timedelta(hours=6))
    assert [f.astimezone(tz).isoformat() for f in fires] == [
        "2026-09-06T02:00:00-03:00",
        "2026-09-06T04:00:00-03:00",
        "2026-09-06T06:00:00-03:00",
    ]


def test_lord_howe_half_hour_fall_back_follows_the_real_clock() -> None:
    # 02:00 +11:00 becomes 01:30 +10:30 at 15:00Z; 01:30-01:59 repeats. A wildcard-hour job
    # fires at every real local 02:05 (cronsim's hour stepping misses this one).
    tz = ZoneInfo("Australia/Lord_Howe")
    start = datetime(2026, 4, 4, 12, tzinfo=UTC)
    fires = _ours("5 */2 * * *", "Australia/Lord_Howe", start, start + timedelta(hours=6))
    assert [f.astimezone(tz).isoformat() for f in fires] == [
        "2026-04-05T00:05:00+11:00",
        "2026-04-05T02:05:00+10:30",
        "2026-04-05T04:05:00+10:30",
    ]
    halves = _ours("*/20 1 * * *", "Australia/Lord_Howe", start, start + timedelta(hours=6))
    assert [f.astimezone(tz).strftime("%H:%M%z") for f in halves] == [
        "01:00+1100",
        "01:20+1100",
        "01:40+1100",
        "01:40+1030",
    ]


TRANSITION_LIST = [
    (tz, datetime.fromisoformat(w).replace(tzinfo=UTC))
    for tz, ws in TRANSITIONS.items()
    for w in ws
]


@settings(max_examples=250, deadline=None)
@given(EXPRS, st.sampled_from(TRANSITION_LIST), st.integers(1, 30))
def test_random_expressions_across_transitions_match_cronsim(
    expr: str, where: tuple[str, datetime], hours_before: int
) -> None:
    tz, t = where
    start, until = t - timedelta(hours=hours_before), t + timedelta(hours=26)
    ours = _ours(expr, tz, start, until)
    theirs = _oracle(expr, tz, start, until)
    assert ours == theirs


@pytest.mark.parametrize("tz", ["America/New_York", "Europe/Berlin", "Asia/Beirut"])
@pytest.mark.parametrize("expr", WILDCARD + EVERY_N)
def test_the_wildcard_oracle_agrees_with_cronsim_where_cronsim_is_right(tz: str, expr: str) -> None:
    zone = ZoneInfo(tz)
    for when in TRANSITIONS[tz]:
        t = datetime.fromisoformat(when).replace(tzinfo=UTC)
        start, until = t - timedelta(hours=30), t + timedelta(hours=30)
        plain = []
        for fire in CronSim(expr, start.astimezone(zone)):
            if fire > until:
                break
            plain.append(fire.astimezone(UTC))
        assert _oracle(expr, tz, start, until) == plain
