"""Cron expression text: aliases, ``H`` hashing by trigger id, and parsing into field sets.

``H`` takes croniter's forms (``H``, ``H(a-b)``, ``H/n``, ``H(a-b)/n``) but draws each field's
value from its own 64-bit BLAKE2b hash of the trigger id and the field index. (croniter's
``hash_id`` reuses one CRC-32 for every field, shifted by one bit per field, so ``H H * * *``
lands on only 240 of the 1,440 daily slots.) The result is an ordinary expression (the
*canonical* text) that croniter parses once and that many triggers may share.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from typing import cast

import attrs
from croniter import CroniterError, croniter

__all__ = ["ALIASES", "ExprError", "Parsed", "canonical", "parse"]

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Field order is croniter's: minute hour day-of-month month day-of-week [second [year]].
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6), (0, 59), (1970, 2099))
_FULL = tuple(tuple(range(lo, hi + 1)) for lo, hi in _RANGES)
_HASH_RE = re.compile(
    r"^(?P<kind>h|r)(\((?P<begin>\d+)-(?P<end>\d+)\))?(/(?P<step>\d+))?$", re.ASCII
)

# croniter 7 reads a range with equal bounds ("5-5", "3-3/2") as the whole field.
_EQUAL_RANGE_RE = re.compile(r"^(\w+)-\1(/\d+)?$", re.ASCII)


class ExprError(ValueError):
    """The expression is not valid; the message says why (without the trigger id)."""


@attrs.frozen
class Parsed:
    """The field sets of a canonical expression, and how it behaves around DST."""

    text: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    doms: frozenset[int]
    months: tuple[int, ...]
    dows: frozenset[int]
    day_and: bool
    fixed_time: bool
    special: bool  # L, W, #, a year field: evaluated by croniter itself


def _field_hash(hash_id: str, idx: int) -> int:
    digest = hashlib.blake2b(f"{idx}:{hash_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _hash_value(h: int, begin: int, end: int) -> int:
    return h % (end - begin + 1) + begin


def _expand_hash(field: str, idx: int, hash_id: str) -> str:
    m = _HASH_RE.match(field)
    if m is None:
        return field
    if m["kind"] == "r":
        raise ExprError(
            f"R (random) in field {field!r} is not supported: every node must compute the same "
            "fire instants; use H (hashed by the trigger id) instead"
        )
    lo, hi = _RANGES[idx]
    begin, end = lo, hi
    if m["begin"] is not None:
        begin, end = int(m["begin"]), int(m["end"])
        if begin >= end or not (lo <= begin <= hi and lo <= end <= hi + (idx == 4)):
            raise ExprError(f"hashed range {field!r} must be increasing and within {lo}-{hi}")
    h = _field_hash(hash_id, idx)
    if m["step"] is None:
        return str(_hash_value(h, begin, end))
    step = int(m["step"])
    if step == 0:
        raise ExprError(f"step 0 in {field!r} is not acceptable")
    x = _hash_value(h, begin, min(begin + step - 1, end))
    return str(x) if x == end else f"{x}-{end}/{step}"


@functools.lru_cache(maxsize=4096)
def _normalise(schedule: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Fields of *schedule* (aliases resolved, equal ranges collapsed) and its H positions."""
    text = " ".join(schedule.split()).lower()
    if text.startswith("@"):
        if text not in ALIASES:
            raise ExprError(
                f"unknown alias {text!r}; known: {', '.join(sorted(ALIASES))} (@reboot and "
                "@every are not schedules)"
            )
        text = ALIASES[text]
    fields = text.split(" ")
    if len(fields) not in (5, 6, 7):
        raise ExprError(
            f"expected 5 fields (minute hour day month weekday), 6 (+ second) or 7 (+ year), "
            f"got {len(fields)}"
        )
    if "-" in text:
        fields = [_single_values(f) for f in fields]
    hashed = tuple(i for i, f in enumerate(fields) if _HASH_RE.match(f))
    return tuple(fields), hashed


def canonical(schedule: str, hash_id: str) -> str:
    """Return *schedule* with aliases resolved and ``H`` fields expanded for *hash_id*."""
    fields, hashed = _normalise(schedule)
    if not hashed:
        return " ".join(fields)
    out = list(fields)
    for i in hashed:
        out[i] = _expand_hash(fields[i], i, hash_id)
    return " ".join(out)


def _single_values(field: str) -> str:
    """Rewrite equal-bound ranges (``5-5``, ``3-3/2``) to the one value they denote."""
    return ",".join(_EQUAL_RANGE_RE.sub(r"\1", term) for term in field.split(","))


_INTERNED: dict[object, object] = {}


def _intern(value: object) -> object:
    """Share equal field tuples and sets between parsed expressions (memory per trigger)."""
    return _INTERNED.setdefault(value, value)


def _values(items: list[int | str], idx: int) -> tuple[int, ...]:
    if items == ["*"]:
        return _FULL[idx]
    return tuple(sorted({int(v) for v in items}))


def _tuple(items: list[int | str], idx: int) -> tuple[int, ...]:
    return cast("tuple[int, ...]", _intern(_values(items, idx)))


def _set(values: Iterable[int]) -> frozenset[int]:
    return cast("frozenset[int]", _intern(frozenset(values)))


@functools.cache
def parse(text: str) -> Parsed:
    """Parse a canonical expression (cached: triggers with the same text share the result)."""
    try:
        expanded, nth = croniter.expand(text)
    except (CroniterError, ValueError, TypeError) as exc:
        raise ExprError(str(exc)) from None
    fields = text.split(" ")
    flat = [v for items in expanded for v in items]
    special = len(fields) == 7 or bool(nth) or "l" in flat or "w" in fields[2]
    dom_star = fields[2].startswith("*") or fields[2] == "?"
    dow_star = fields[4].startswith("*") or fields[4] == "?"
    return Parsed(
        text=text,
        seconds=_tuple(expanded[5], 5) if len(fields) > 5 else (0,),
        minutes=_tuple(expanded[0], 0),
        hours=_tuple(expanded[1], 1),
        doms=_set(() if special else _values(expanded[2], 2)),
        months=_tuple(expanded[3], 3),
        dows=_set(() if special else (v % 7 for v in _values(expanded[4], 4))),
        day_and=dom_star or dow_star,
        fixed_time=not (fields[0].startswith("*") or fields[1].startswith("*")),
        special=special,
    )
