"""``CronSpec``: one cron trigger as configured, validated when it is built (or read from TOML)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, get_args
from zoneinfo import ZoneInfoNotFoundError

import attrs

from stargraph._json import JSONObject, ensure_json_object
from stargraph._table import Reader, Table, init_fields
from stargraph.errors import ConfigError
from stargraph.store._sql.overlap import OVERLAP_POLICIES
from stargraph.triggers._contract import MAX_KEY_LENGTH, check_trigger_id
from stargraph.triggers.cron._expr import ExprError
from stargraph.triggers.cron.schedule import Schedule, compile_schedule

__all__ = [
    "FALL_BACK_MODES",
    "MISSED_FIRE_POLICIES",
    "CronSpec",
    "MissedFirePolicy",
    "OverlapPolicy",
]

MissedFirePolicy = Literal["skip", "fire_once_catchup", "fire_all"]
#: What a due fire does while an earlier run of its trigger is unfinished (docs/time.md).
OverlapPolicy = Literal["allow", "skip", "buffer_one", "cancel_previous"]
MISSED_FIRE_POLICIES: tuple[str, ...] = get_args(MissedFirePolicy)
FALL_BACK_MODES = ("first", "both")


Where = Callable[[Any], str]
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _where(inst: Any) -> str:
    return f"cron trigger {getattr(inst, 'trigger_id', '?')!r}"


def nonempty(where: Where) -> Validator:
    """A validator: a non-empty string (errors start with ``where(instance)``)."""

    def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                f"{where(inst)}: {attr.name} must be a non-empty string, got {value!r}"
            )

    return check


_FIRE_INSTANT = len("2026-01-01T00:00:00+00:00")  # a fire key's instant: whole seconds, UTC


def time_trigger_id(kind: str) -> Validator:
    """A validator: a trigger id that every fire key of a *kind* trigger can carry (a key is
    ``{kind}:{trigger_id}:{instant}``, at most ``MAX_KEY_LENGTH`` characters), so a spec whose
    fires would all be refused is refused when it is built instead."""
    limit = MAX_KEY_LENGTH - len(kind) - 2 - _FIRE_INSTANT

    def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        check_trigger_id(value, what=f"{kind} trigger id", error=ConfigError)
        if len(value) > limit:
            raise ConfigError(
                f"{kind} trigger id {value[:40]!r}... is {len(value)} characters; it may have at "
                f"most {limit} (its fire keys, '{kind}:<trigger_id>:<instant>', at most "
                f"{MAX_KEY_LENGTH}); use a shorter id"
            )

    return check


def check_one_of(choices: tuple[str, ...], where: Where) -> Validator:
    """A validator: one of *choices*."""

    def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise ConfigError(
                f"{where(inst)}: {attr.name} {value!r} is not one of {', '.join(choices)}"
            )

    return check


def check_window(where: Where) -> Validator:
    """A validator: a non-negative timedelta."""

    def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, timedelta) or value < timedelta(0):
            raise ConfigError(
                f"{where(inst)}: {attr.name} must be a non-negative timedelta, got {value!r}"
            )

    return check


def check_aware(where: Where) -> Validator:
    """A validator: ``None`` or a timezone-aware datetime."""

    def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ConfigError(
                f"{where(inst)}: {attr.name} must be a timezone-aware datetime, got {value!r}"
            )

    return check


def check_params(value: Any) -> JSONObject:
    """A converter: a JSON object (ConfigError otherwise)."""
    if isinstance(value, dict) and not value:
        return value
    try:
        return ensure_json_object(value, "trigger params")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


_nonempty = nonempty(_where)
_window = check_window(_where)
_aware = check_aware(_where)


def _one_of(choices: tuple[str, ...]) -> Validator:
    return check_one_of(choices, _where)


@attrs.frozen(kw_only=True)
class CronSpec:
    """One cron trigger: a schedule in a zone that enqueues runs of one graph.

    The schedule is compiled (and rejected with :class:`~stargraph.errors.ConfigError` naming
    the trigger and the value) when the spec is built.
    """

    kind: ClassVar[str] = "cron"

    trigger_id: str = attrs.field(validator=time_trigger_id("cron"))
    schedule: str = attrs.field(validator=_nonempty)
    graph_id: str = attrs.field(validator=_nonempty)
    tz: str = attrs.field(default="UTC", validator=_nonempty)
    params: JSONObject = attrs.field(factory=dict, converter=check_params, repr=False)
    missed_fire_policy: MissedFirePolicy = attrs.field(
        default="fire_once_catchup", validator=_one_of(MISSED_FIRE_POLICIES)
    )
    catchup_window: timedelta = attrs.field(default=timedelta(days=1), validator=_window)
    fall_back: Literal["first", "both"] = attrs.field(
        default="first", validator=_one_of(FALL_BACK_MODES)
    )
    start_at: datetime | None = attrs.field(default=None, validator=_aware)
    end_at: datetime | None = attrs.field(default=None, validator=_aware)
    paused: bool = False
    overlap: OverlapPolicy = attrs.field(default="allow", validator=_one_of(OVERLAP_POLICIES))
    _compiled: Schedule = attrs.field(init=False, eq=False, repr=False, alias="_compiled")

    def __attrs_post_init__(self) -> None:
        try:
            sched = compile_schedule(self.schedule, self.tz, self.trigger_id, self.fall_back)
        except ExprError as exc:
            raise ConfigError(
                f"{_where(self)}: schedule {self.schedule!r} is invalid: {exc}"
            ) from None
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"{_where(self)}: tz {self.tz!r} is not a known IANA time zone ({exc}); use a "
                "name such as 'UTC' or 'Europe/Berlin'"
            ) from None
        if self.start_at and self.end_at and self.end_at < self.start_at:
            raise ConfigError(
                f"{_where(self)}: end_at {self.end_at} is before start_at {self.start_at}"
            )
        object.__setattr__(self, "_compiled", sched)

    @classmethod
    def from_table(cls, table: Table) -> CronSpec:
        """Build the spec from one ``[[cron]]`` table; errors name the file, the key and why.

        The keys are the fields above; ``catchup_window`` is in seconds, ``start_at`` and
        ``end_at`` are TOML datetimes with an offset.
        """
        names = init_fields(cls)
        table.reject_unknown(names)
        return table.build(cls, table.read_fields(cls, names, _READERS))

    @property
    def compiled(self) -> Schedule:
        """The compiled schedule (shared with every spec of the same canonical text)."""
        return self._compiled


def _read_tz(t: Table, name: str) -> str:
    tz: str = t.get_str(name)
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        reason = f"unknown time zone {tz!r}; use an IANA name such as Europe/Berlin"
        raise t.error(name, reason) from None
    return tz


def _read_aware(t: Table, name: str) -> datetime:
    value = t.data[name]
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise t.error(name, f"must be a TOML datetime with an offset, got {value!r}")
    return value.astimezone(UTC)


_READERS: dict[str, Reader] = {
    "tz": _read_tz,
    "params": lambda t, name: dict(t.table(name).data),
    "catchup_window": lambda t, name: timedelta(seconds=t.get_number(name, positive=False)),
    "start_at": _read_aware,
    "end_at": _read_aware,
}
