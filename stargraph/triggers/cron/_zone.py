"""UTC-offset segments of a time zone: where the offset is constant, and what came before.

zoneinfo does not expose its transitions, so they are found once per (zone, year) by probing
the offset at every UTC midnight and bisecting each change to the second. Fixed-offset zones
(``UTC``, ``Etc/*`` and their aliases) have one segment for all time and are never probed.
Time is handled as integer epoch seconds; a *local epoch* is an epoch plus the UTC offset (a
naive wall time).
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

__all__ = ["Segment", "Zone", "zone"]

_DAY = 86_400
_ALWAYS = (-(2**62), 2**62)  # the one segment of a fixed-offset zone
_FIXED = frozenset(
    {"UTC", "UCT", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich", "Universal", "Zulu"}
)
Segment = tuple[int, int, int, int]  # start, end (exclusive), offset, offset before start


def _year_start(year: int) -> int:
    return int(datetime(year, 1, 1, tzinfo=UTC).timestamp())


class Zone:
    """Offsets and transitions of one IANA zone, cached per year."""

    __slots__ = ("_last", "_years", "key", "tz")

    def __init__(self, key: str) -> None:
        self.key = key
        self.tz = ZoneInfo(key)
        self._years: dict[int, list[tuple[int, int, int]]] = {}
        self._last: Segment = (0, 0, 0, 0)
        if key in _FIXED or key.startswith("Etc/"):
            off = self.offset(0)
            self._last = (*_ALWAYS, off, off)

    def offset(self, epoch: int) -> int:
        """UTC offset in seconds at the instant *epoch*."""
        off = datetime.fromtimestamp(epoch, self.tz).utcoffset()
        return 0 if off is None else int(off.total_seconds())

    def _find(self, lo: int, hi: int) -> int:
        """First second in (lo, hi] whose offset differs from the offset at lo."""
        base = self.offset(lo)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.offset(mid) == base:
                lo = mid
            else:
                hi = mid
        return hi

    def _year(self, year: int) -> list[tuple[int, int, int]]:
        found = self._years.get(year)
        if found is None:
            found = []
            t, end = _year_start(year), _year_start(year + 1)
            prev = self.offset(t)
            while t < end:
                cur = self.offset(t + _DAY)
                if cur != prev:
                    at = self._find(t, t + _DAY)
                    found.append((at, self.offset(at - 1), self.offset(at)))
                prev, t = cur, t + _DAY
            self._years[year] = found
        return found

    def segment(self, epoch: int) -> Segment:
        """The constant-offset interval holding *epoch*: (start, end, offset, offset before).

        Bounds may be pseudo-boundaries (the edge of the cached years) where the offset does
        not change; callers simply continue into the next segment.
        """
        last = self._last
        if last[0] <= epoch < last[1]:
            return last
        year = datetime.fromtimestamp(epoch, UTC).year
        trans = [x for y in (year - 1, year, year + 1) for x in self._year(y)]
        times = [x[0] for x in trans]
        i = bisect_right(times, epoch)
        if i:
            start, before, off = trans[i - 1]
        else:
            start = _year_start(year - 1)
            off = before = self.offset(start)
        end = times[i] if i < len(times) else _year_start(year + 2)
        self._last = seg = (start, end, off, before)
        return seg


@functools.cache
def zone(key: str) -> Zone:
    """Return the shared :class:`Zone` for *key* (raises if zoneinfo does not know it)."""
    return Zone(key)
