"""Calendar matching on naive local wall times: the first time at or after *n* that matches.

:class:`FastMatcher` walks the field sets with ``bisect`` (a few microseconds per call).
:class:`CroniterMatcher` hands expressions with ``L``, ``W``, ``#`` or a year field to croniter,
on naive datetimes, so croniter's own DST handling never applies: DST is decided one layer up.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from datetime import date as _date
from datetime import datetime, timedelta
from typing import Protocol

from croniter import CroniterError, croniter

from stargraph.triggers.cron._expr import Parsed

__all__ = ["FastMatcher", "Matcher", "matcher_for"]

_SEARCH_YEARS = 50
_ONE_SECOND = timedelta(seconds=1)
_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in(y: int, mo: int) -> int:
    return 29 if mo == 2 and calendar.isleap(y) else _DAYS[mo]


class Matcher(Protocol):
    """Finds matching naive wall times."""

    def first_at_or_after(self, n: datetime) -> datetime | None:
        """Return the first naive time >= *n* that matches, or None within 50 years."""
        ...


class FastMatcher:
    """Matching over sorted field tuples, Debian's day-of-month/day-of-week rule."""

    __slots__ = ("_all_days", "_p")

    def __init__(self, parsed: Parsed) -> None:
        self._p = parsed
        self._all_days = len(parsed.doms) == 31 and len(parsed.dows) == 7

    def _day_ok(self, y: int, mo: int, d: int) -> bool:
        p = self._p
        dom = d in p.doms
        if p.day_and and not dom:
            return False
        if dom and not p.day_and:
            return True
        return (_date(y, mo, d).weekday() + 1) % 7 in p.dows

    def _time_of_day(self, h: int, mi: int, s: int) -> tuple[int, int, int] | None:
        """First matching time of day >= h:mi:s, or None."""
        p = self._p
        hours, minutes, seconds = p.hours, p.minutes, p.seconds
        i = bisect_left(hours, h)
        if i == len(hours):
            return None
        if hours[i] != h:
            return hours[i], minutes[0], seconds[0]
        j = bisect_left(minutes, mi)
        if j < len(minutes):
            if minutes[j] != mi:
                return h, minutes[j], seconds[0]
            k = bisect_left(seconds, s)
            if k < len(seconds):
                return h, mi, seconds[k]
            if j + 1 < len(minutes):
                return h, minutes[j + 1], seconds[0]
        if i + 1 < len(hours):
            return hours[i + 1], minutes[0], seconds[0]
        return None

    def _day(self, y: int, mo: int, d: int, limit: int) -> tuple[int, int, int] | None:
        """First matching day >= y-mo-d, or None after year *limit*."""
        months = self._p.months
        while y <= limit:
            if mo > 12:
                y, mo, d = y + 1, 1, 1
                continue
            if mo not in months:
                i = bisect_left(months, mo)
                y, mo = (y, months[i]) if i < len(months) else (y + 1, months[0])
                d = 1
                continue
            if d > 28 and d > _days_in(y, mo):
                mo, d = mo + 1, 1
                continue
            if self._all_days or self._day_ok(y, mo, d):
                return y, mo, d
            d += 1
        return None

    def first_at_or_after(self, n: datetime) -> datetime | None:
        y, mo, d, h, mi, s = n.year, n.month, n.day, n.hour, n.minute, n.second
        if n.microsecond:
            n = n.replace(microsecond=0) + _ONE_SECOND
            y, mo, d, h, mi, s = n.year, n.month, n.day, n.hour, n.minute, n.second
        limit = y + _SEARCH_YEARS
        day = self._day(y, mo, d, limit)
        if day is None:
            return None
        tod = self._time_of_day(h, mi, s) if day == (y, mo, d) else None
        if tod is None:
            if day == (y, mo, d):
                nxt = _date(y, mo, d) + timedelta(days=1)
                day = self._day(nxt.year, nxt.month, nxt.day, limit)
                if day is None:
                    return None
            p = self._p
            tod = p.hours[0], p.minutes[0], p.seconds[0]
        return datetime(*day, *tod)


class CroniterMatcher:
    """Matching by croniter on naive datetimes (for L, W, #, years)."""

    __slots__ = ("_day_or", "_text")

    def __init__(self, parsed: Parsed) -> None:
        self._text = parsed.text
        self._day_or = not parsed.day_and

    def first_at_or_after(self, n: datetime) -> datetime | None:
        start = n.replace(microsecond=0) - _ONE_SECOND if not n.microsecond else n
        try:
            it = croniter(
                self._text, start, day_or=self._day_or, max_years_between_matches=_SEARCH_YEARS
            )
            result: datetime = it.get_next(datetime)
        except CroniterError:
            return None
        return result


def matcher_for(parsed: Parsed) -> Matcher:
    """Return the matcher that can evaluate *parsed*."""
    return CroniterMatcher(parsed) if parsed.special else FastMatcher(parsed)
