"""Fire instants of a cron schedule in a time zone, with Debian cron's daylight-saving rules.

Everything here is pure and synchronous; instants are integer epoch seconds (UTC) internally
and aware datetimes at the edges. A *fixed-time* schedule (neither minute nor hour field starts
with ``*``) fires once right after a spring-forward gap for times inside it, and once (the first
occurrence) in a fall-back overlap, or in both copies with ``fall_back="both"``. Any other
(*wildcard*) schedule follows the real clock: skipped local times never fire, repeated local
times fire in both copies.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from stargraph.triggers.cron._expr import ExprError, Parsed, canonical, parse
from stargraph.triggers.cron._matcher import Matcher, matcher_for
from stargraph.triggers.cron._zone import Zone, zone

__all__ = ["Schedule", "compile_schedule", "from_epoch", "to_epoch"]

_NAIVE_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)
_HORIZON = 50 * 366 * 86_400  # give up after 50 years without a fire (as cronsim does)


def to_epoch(dt: datetime) -> int:
    """Whole epoch seconds of an aware datetime, rounded down."""
    return math.floor(dt.timestamp())


def from_epoch(epoch: int) -> datetime:
    """The aware UTC datetime of *epoch*."""
    return datetime.fromtimestamp(epoch, UTC)


def _naive(local: int) -> datetime:
    return _NAIVE_EPOCH + timedelta(seconds=local)


def _local(n: datetime) -> int:
    return (n - _NAIVE_EPOCH) // _SECOND


class Schedule:
    """A compiled expression in a zone; shared by every trigger with the same canonical text."""

    __slots__ = ("_both", "_fixed", "_m", "parsed", "zone")

    def __init__(self, parsed: Parsed, zone_: Zone, fall_back: str) -> None:
        self.parsed = parsed
        self.zone = zone_
        self._m: Matcher = matcher_for(parsed)
        self._fixed = parsed.fixed_time
        self._both = fall_back == "both"

    def _match(self, local: int) -> int | None:
        found = self._m.first_at_or_after(_naive(local))
        return None if found is None else _local(found)

    def _gap_fire(self, start: int, off: int, before: int) -> int | None:
        """Local time of the one fire a fixed-time schedule owes for a spring-forward gap."""
        gap_end = start + off
        m = self._match(start + before)
        if m is None or m >= gap_end:
            return None
        return m + 60 * -((m - gap_end) // 60)  # whole minutes forward, like cronsim

    def first_at_or_after(self, b: int) -> int | None:
        """The first fire instant >= *b* (epoch seconds), or None within 50 years."""
        limit = b + _HORIZON
        while b < limit:
            start, end, off, before = self.zone.segment(b)
            lo = b + off
            best: int | None = None
            if self._fixed and off > before and b < start + 60:
                gap = self._gap_fire(start, off, before)
                if gap is not None:
                    lo = max(lo, gap + 1)
                    if gap - off >= b:
                        best = gap - off
            if self._fixed and not self._both and before > off:
                lo = max(lo, start + before)  # the repeated copy: fixed times ran in the first
            m = self._match(lo) if best is None else None
            if best is not None:
                return best
            if m is not None and m < end + off:
                return m - off
            if m is None:
                return None
            b = end
        return None

    def next_after(self, epoch: int) -> int | None:
        """The first fire instant strictly after *epoch*."""
        return self.first_at_or_after(epoch + 1)

    def latest_at_or_before(self, t: int, floor: int) -> int | None:
        """The last fire instant in [floor, t], or None."""
        span = 1
        while True:
            lo = max(t - span + 1, floor)
            f = self.first_at_or_after(lo)
            if f is not None and f <= t:
                while (g := self.next_after(f)) is not None and g <= t:
                    f = g
                return f
            if lo <= floor:
                return None
            span *= 2

    def iter_between(self, after: int, until: int) -> Iterator[int]:
        """Fire instants in (after, until], oldest first."""
        f = self.next_after(after)
        while f is not None and f <= until:
            yield f
            f = self.next_after(f)


@functools.cache
def _compiled(text: str, tz: str, fall_back: str) -> Schedule:
    sched = Schedule(parse(text), zone(tz), fall_back)
    if sched.next_after(to_epoch(datetime.now(UTC))) is None:
        raise ExprError(
            "it never fires after now (an impossible date such as February 31, or a year "
            "field in the past)"
        )
    return sched


def compile_schedule(schedule: str, tz: str, hash_id: str, fall_back: str = "first") -> Schedule:
    """Compile *schedule* for trigger *hash_id* in zone *tz* (cached by canonical text).

    Raises ``ExprError`` for an invalid expression and ``ZoneInfoNotFoundError`` (a
    ``KeyError``) for an unknown zone.
    """
    return _compiled(canonical(schedule, hash_id), tz, fall_back)
