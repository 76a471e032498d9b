"""Missed-fire policies: what to run of the planned fires in (cursor, now].

Pure functions over epoch seconds. ``cursor`` is the trigger's persisted cursor: every planned
fire at or before it was handled (run, or counted as skipped).

- ``skip``: run none; move the cursor to the latest missed fire.
- ``fire_once_catchup``: run only the latest missed fire, if it is inside ``catchup_window``.
- ``fire_all``: run every missed fire inside ``catchup_window``, oldest first.

Fires older than ``now - catchup_window`` are never run; every fire not run is counted (up to
:data:`COUNT_CAP` per catch-up, which keeps a long outage of an every-second schedule cheap).
"""

from __future__ import annotations

import attrs

from stargraph.triggers.cron.interval import TimeSpec
from stargraph.triggers.cron.schedule import to_epoch

__all__ = ["COUNT_CAP", "CatchUp", "count_between", "next_fire", "plan_missed"]

COUNT_CAP = 10_000  # skipped fires are counted exactly up to this many per catch-up


def _bounds(spec: TimeSpec) -> tuple[int | None, int | None]:
    start = None if spec.start_at is None else to_epoch(spec.start_at)
    end = None if spec.end_at is None else to_epoch(spec.end_at)
    return start, end


def next_fire(spec: TimeSpec, after: int) -> int | None:
    """The first planned fire of *spec* strictly after *after*, within start_at/end_at."""
    start, end = _bounds(spec)
    if start is not None and after < start - 1:
        after = start - 1
    nxt = spec.compiled.next_after(after)
    if nxt is None or (end is not None and nxt > end):
        return None
    return nxt


def count_between(spec: TimeSpec, after: int, until: int, cap: int = COUNT_CAP) -> int:
    """How many planned fires lie in (after, until], counting at most *cap*."""
    n, f = 0, next_fire(spec, after)
    while f is not None and f <= until and n < cap:
        n += 1
        f = next_fire(spec, f)
    return n


def _latest(spec: TimeSpec, cursor: int, now: int) -> int | None:
    start, end = _bounds(spec)
    first = next_fire(spec, cursor)
    if first is None or first > now:
        return None
    top = now if end is None else min(now, end)
    return spec.compiled.latest_at_or_before(top, max(first, start or first))


@attrs.frozen(kw_only=True)
class CatchUp:
    """The decision for one trigger: fires to run (oldest first), how many are skipped, and
    the cursor to store when no run carries it (``None``: leave it)."""

    fires: tuple[int, ...] = ()
    skipped: int = 0
    cursor: int | None = None

    @property
    def capped(self) -> bool:
        """True when more fires were skipped than :data:`COUNT_CAP` (``skipped`` is a floor)."""
        return self.skipped >= COUNT_CAP


def plan_missed(spec: TimeSpec, cursor: int, now: int) -> CatchUp:
    """Apply ``spec.missed_fire_policy`` to the planned fires in (cursor, now]."""
    latest = _latest(spec, cursor, now)
    if latest is None:
        return CatchUp()
    oldest_ok = now - int(spec.catchup_window.total_seconds())
    policy = spec.missed_fire_policy
    if policy == "skip" or latest < oldest_ok:
        return CatchUp(skipped=count_between(spec, cursor, latest), cursor=latest)
    if policy == "fire_once_catchup":
        return CatchUp(fires=(latest,), skipped=count_between(spec, cursor, latest - 1))
    too_old = count_between(spec, cursor, oldest_ok - 1)
    fires: list[int] = []
    f = next_fire(spec, max(cursor, oldest_ok - 1))
    while f is not None and f <= latest:
        fires.append(f)
        f = next_fire(spec, f)
    return CatchUp(fires=tuple(fires), skipped=too_old)
