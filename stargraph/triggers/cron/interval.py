"""``IntervalSpec``: a trigger that fires every N seconds from an anchor (elapsed time, no DST).

Planned instants are ``start_at + k * every`` (k >= 0) in whole epoch seconds, up to ``end_at``
(inclusive). Without ``start_at`` the anchor is the first time any node saw the trigger, stored
in the trigger's state (:meth:`~stargraph.store.base.RunStore.claim_trigger_anchors`). The cron
loop hosts interval specs beside cron specs (one heap); see ``docs/time.md``.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import attrs

from stargraph._table import Reader, Table, init_fields
from stargraph.errors import ConfigError, StargraphRuntimeError
from stargraph.store._sql.overlap import OVERLAP_POLICIES
from stargraph.triggers.cron.schedule import to_epoch
from stargraph.triggers.cron.spec import (
    MISSED_FIRE_POLICIES,
    CronSpec,
    MissedFirePolicy,
    OverlapPolicy,
    check_aware,
    check_one_of,
    check_params,
    check_window,
    nonempty,
    time_trigger_id,
)

__all__ = [
    "IntervalSchedule",
    "IntervalSpec",
    "TimeSpec",
    "every_text",
    "jitter_offset",
    "parse_duration",
]

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object, what: str) -> timedelta:
    """``"90s"``, ``"10m"``, ``"2h"``, ``"1d"``, a number of seconds or a timedelta; whole
    seconds only. Raises ``ValueError`` naming *what* and the value."""
    if isinstance(value, timedelta):
        seconds: float = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError(
            f"{what} {value!r} is not a duration; use a whole number with a unit s, m, h or d "
            "(such as '90s' or '10m') or a number of seconds"
        )
    if not math.isfinite(seconds) or seconds != int(seconds):
        raise ValueError(f"{what} {value!r} must be whole seconds (sub-second is not supported)")
    return timedelta(seconds=int(seconds))


def every_text(every: timedelta) -> str:
    """``"every 90s"``, ``"every 10m"``, ``"every 2h"``: the period in its largest whole unit."""
    seconds = int(every.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"every {seconds // _UNITS[unit]}{unit}"
    return f"every {seconds}s"


def jitter_offset(trigger_id: str, fire: int, jitter: int) -> int:
    """The offset in [0, *jitter*] seconds of the fire at epoch *fire* (the same on every node)."""
    digest = hashlib.blake2b(f"{trigger_id}:{fire}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (jitter + 1)


class IntervalSchedule:
    """``anchor + k * every`` in epoch seconds; the methods the missed-fire policies use."""

    __slots__ = ("anchor", "every")

    def __init__(self, anchor: int, every: int) -> None:
        self.anchor, self.every = anchor, every

    def next_after(self, epoch: int) -> int | None:
        """The first instant strictly after *epoch*."""
        if epoch < self.anchor:
            return self.anchor
        return self.anchor + ((epoch - self.anchor) // self.every + 1) * self.every

    def first_at_or_after(self, b: int) -> int | None:
        """The first instant at or after *b*."""
        return self.next_after(b - 1)

    def latest_at_or_before(self, t: int, floor: int) -> int | None:
        """The last instant in [floor, t], or None."""
        if t < self.anchor:
            return None
        f = self.anchor + (t - self.anchor) // self.every * self.every
        return f if f >= floor else None


def _where(inst: Any) -> str:
    return f"interval trigger {getattr(inst, 'trigger_id', '?')!r}"


def _to_duration(value: Any, what: str) -> timedelta:
    try:
        return parse_duration(value, what)
    except ValueError as exc:
        raise ConfigError(f"interval trigger: {exc}") from None


def _every_value(value: Any) -> timedelta:
    return _to_duration(value, "every")


def _jitter_value(value: Any) -> timedelta:
    return _to_duration(value, "jitter")


def _every(inst: Any, attr: attrs.Attribute[Any], value: timedelta) -> None:
    if value < timedelta(seconds=1):
        raise ConfigError(
            f"{_where(inst)}: every {value.total_seconds():g}s must be at least 1 second"
        )


def _jitter(inst: Any, attr: attrs.Attribute[Any], value: timedelta) -> None:
    if value < timedelta(0) or value >= inst.every:
        raise ConfigError(
            f"{_where(inst)}: jitter {value.total_seconds():g}s must be >= 0 and shorter than "
            f"every ({inst.every.total_seconds():g}s)"
        )


@attrs.frozen(kw_only=True)
class IntervalSpec:
    """One interval trigger: every ``every`` from ``start_at`` (or the persisted first sight).

    Errors are :class:`~stargraph.errors.ConfigError` naming the trigger, the key and the value.
    """

    kind: ClassVar[str] = "interval"

    trigger_id: str = attrs.field(validator=time_trigger_id("interval"))
    every: timedelta = attrs.field(converter=_every_value, validator=_every)
    graph_id: str = attrs.field(validator=nonempty(_where))
    params: dict[str, Any] = attrs.field(factory=dict, converter=check_params, repr=False)
    start_at: datetime | None = attrs.field(default=None, validator=check_aware(_where))
    end_at: datetime | None = attrs.field(default=None, validator=check_aware(_where))
    jitter: timedelta = attrs.field(
        default=timedelta(0), converter=_jitter_value, validator=_jitter
    )
    missed_fire_policy: MissedFirePolicy = attrs.field(
        default="fire_once_catchup", validator=check_one_of(MISSED_FIRE_POLICIES, _where)
    )
    catchup_window: timedelta = attrs.field(
        default=timedelta(days=1), validator=check_window(_where)
    )
    overlap: OverlapPolicy = attrs.field(
        default="allow", validator=check_one_of(OVERLAP_POLICIES, _where)
    )
    paused: bool = False
    _compiled: IntervalSchedule | None = attrs.field(
        init=False, eq=False, repr=False, alias="_compiled"
    )

    def __attrs_post_init__(self) -> None:
        if self.start_at and self.end_at and self.end_at < self.start_at:
            raise ConfigError(
                f"{_where(self)}: end_at {self.end_at} is before start_at {self.start_at}"
            )
        sched = None
        if self.start_at is not None:
            sched = IntervalSchedule(to_epoch(self.start_at), int(self.every.total_seconds()))
        object.__setattr__(self, "_compiled", sched)

    @classmethod
    def from_table(cls, table: Table) -> IntervalSpec:
        """Build the spec from one ``[[interval]]`` table; errors name the file, key and why."""
        names = init_fields(cls)
        table.reject_unknown(names)
        return table.build(cls, table.read_fields(cls, names, _READERS))

    @property
    def compiled(self) -> IntervalSchedule:
        """The instants' schedule; only an anchored spec (``start_at`` set) has one."""
        if self._compiled is None:
            raise StargraphRuntimeError(
                f"{_where(self)} has no anchor yet; the cron loop resolves it from the store"
            )
        return self._compiled

    @property
    def jitter_seconds(self) -> int:
        """``jitter`` in whole seconds."""
        return int(self.jitter.total_seconds())

    def anchored(self, anchor: datetime) -> IntervalSpec:
        """This spec with *anchor* as its ``start_at`` (the persisted default).

        A field-by-field copy, not ``attrs.evolve``: the other fields are already validated
        (no converter or validator runs again), and start-up anchors up to 100,000 specs.
        """
        start = anchor.astimezone(UTC)
        if self.end_at is not None and self.end_at < start:
            raise ConfigError(f"{_where(self)}: end_at {self.end_at} is before start_at {start}")
        new = object.__new__(IntervalSpec)
        for name in _FIELD_NAMES:
            object.__setattr__(new, name, getattr(self, name))
        object.__setattr__(new, "start_at", start)
        sched = IntervalSchedule(to_epoch(start), int(self.every.total_seconds()))
        object.__setattr__(new, "_compiled", sched)
        return new


_FIELD_NAMES = tuple(a.name for a in attrs.fields(IntervalSpec))


def _read_duration(t: Table, name: str) -> timedelta:
    try:
        return parse_duration(t.data[name], name)
    except ValueError as exc:
        raise t.error(name, str(exc)) from None


def _read_aware(t: Table, name: str) -> datetime:
    value = t.data[name]
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise t.error(name, f"must be a TOML datetime with an offset, got {value!r}")
    return value.astimezone(UTC)


_READERS: dict[str, Reader] = {
    "every": _read_duration,
    "jitter": _read_duration,
    "params": lambda t, name: dict(t.table(name).data),
    "catchup_window": lambda t, name: timedelta(seconds=t.get_number(name, positive=False)),
    "start_at": _read_aware,
    "end_at": _read_aware,
}


#: A spec the cron loop hosts.
TimeSpec = CronSpec | IntervalSpec
