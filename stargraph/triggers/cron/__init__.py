"""The bundled cron trigger: ``CronSpec``, ``CronTrigger`` and ``next_fires``."""

from __future__ import annotations

from datetime import datetime

from stargraph.triggers.cron.policy import next_fire
from stargraph.triggers.cron.schedule import from_epoch, to_epoch
from stargraph.triggers.cron.spec import CronSpec
from stargraph.triggers.cron.trigger import CronTrigger

__all__ = ["CronSpec", "CronTrigger", "next_fires"]


def next_fires(spec: CronSpec, after: datetime, count: int) -> list[datetime]:
    """The next *count* planned fires of *spec* strictly after *after*, as aware UTC datetimes.

    Honours ``start_at`` and ``end_at``; fewer than *count* come back when the schedule ends.
    Show them in the spec's zone with ``.astimezone(ZoneInfo(spec.tz))`` (UTC is returned
    because Python never finds an ambiguous local time equal to an instant in another zone).
    """
    if after.utcoffset() is None:
        raise ValueError(f"after must be timezone-aware, got {after!r}")
    out: list[datetime] = []
    cur: int | None = to_epoch(after)
    while len(out) < count and cur is not None:
        cur = next_fire(spec, cur)
        if cur is not None:
            out.append(from_epoch(cur))
    return out
