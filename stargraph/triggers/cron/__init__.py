"""The bundled cron trigger: ``CronSpec``, ``CronTrigger`` and ``next_fires``."""

from __future__ import annotations

from datetime import datetime

from stargraph.triggers.cron.schedule import from_epoch, to_epoch
from stargraph.triggers.cron.spec import CronSpec

__all__ = ["CronSpec", "next_fires"]


def next_fires(spec: CronSpec, after: datetime, count: int) -> list[datetime]:
    """The next *count* planned fires of *spec* strictly after *after*, as aware UTC datetimes.

    Honours ``start_at`` and ``end_at``; fewer than *count* come back when the schedule ends.
    Show them in the spec's zone with ``.astimezone(ZoneInfo(spec.tz))`` (UTC is returned
    because Python never finds an ambiguous local time equal to an instant in another zone).
    """
    if after.utcoffset() is None:
        raise ValueError(f"after must be timezone-aware, got {after!r}")
    sched = spec.compiled
    cur = to_epoch(after)
    if spec.start_at is not None:
        cur = max(cur, to_epoch(spec.start_at) - 1)
    end = None if spec.end_at is None else to_epoch(spec.end_at)
    out: list[datetime] = []
    while len(out) < count:
        nxt = sched.next_after(cur)
        if nxt is None or (end is not None and nxt > end):
            break
        out.append(from_epoch(nxt))
        cur = nxt
    return out
