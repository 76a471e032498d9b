"""``FsSpec``: one watched folder as configured (``[[fs]]``), validated when it is built."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args

import attrs

from stargraph._json import JSONObject, ensure_json_object
from stargraph._table import Reader, Table, init_fields
from stargraph.errors import ConfigError

__all__ = ["CHANGES", "INITIAL_MODES", "Change", "FsSpec", "parse_duration"]

Change = Literal["added", "modified", "deleted"]
CHANGES: tuple[str, ...] = get_args(Change)
INITIAL_MODES = ("fire", "skip")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")


def parse_duration(value: object, where: str) -> float:
    """Seconds from a number or a string such as ``"250ms"``, ``"1s"``, ``"2m"``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(
            f"{where}: expected a duration such as '1s', '250ms' or '2m' (or seconds as a "
            f"number >= 0), got {value!r}"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def _where(inst: Any) -> str:
    return f"fs trigger {getattr(inst, 'trigger_id', '?')!r}"


def _nonempty(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{_where(inst)}: {attr.name} must be a non-empty string, got {value!r}")


def _changes(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    bad = [v for v in value if v not in CHANGES]
    if bad or not value:
        raise ConfigError(
            f"{_where(inst)}: on must list one or more of {', '.join(CHANGES)}, got {list(value)!r}"
        )


def _initial(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    if value not in INITIAL_MODES:
        raise ConfigError(f"{_where(inst)}: initial must be 'fire' or 'skip', got {value!r}")


def _settle(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, float) or value < 0:
        raise ConfigError(f"{_where(inst)}: settle must be seconds >= 0, got {value!r}")


def _params(value: Any) -> JSONObject:
    try:
        return ensure_json_object(value, "fs params")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


@attrs.frozen(kw_only=True)
class FsSpec:
    """One watched folder: which files, which changes, which graph.

    ``settle`` (seconds) is how long a file's size and modification time must stay unchanged
    before it is read; ``initial`` says what happens to files already there when watching
    starts (``fire``: each is enqueued, deduplicated by its content key; ``skip``: only
    remembered). ``params`` are added to every run's params.
    """

    trigger_id: str = attrs.field(validator=_nonempty)
    path: str = attrs.field(validator=_nonempty)
    graph_id: str = attrs.field(validator=_nonempty)
    pattern: str | None = None
    settle: float = attrs.field(default=1.0, converter=float, validator=_settle)
    on: tuple[str, ...] = attrs.field(
        default=("added", "modified"), converter=tuple, validator=_changes
    )
    initial: str = attrs.field(default="fire", validator=_initial)
    params: JSONObject = attrs.field(factory=dict, converter=_params, repr=False)
    paused: bool = False

    @property
    def folder(self) -> Path:
        """The watched folder as an absolute path."""
        return Path(self.path).absolute()

    @classmethod
    def from_table(cls, table: Table) -> FsSpec:
        """Build the spec from one ``[[fs]]`` table; errors name the file, the key and why.

        ``settle`` is a duration (``"1s"``, ``"250ms"``) or seconds; ``on`` a list of
        ``added``, ``modified``, ``deleted``; ``initial`` is ``fire`` or ``skip``.
        """
        names = init_fields(cls)
        table.reject_unknown(names)
        return table.build(cls, table.read_fields(cls, names, _READERS))


def _read_settle(t: Table, name: str) -> float:
    try:
        return parse_duration(t.data[name], t.key(name))
    except ConfigError as exc:
        raise t.error(name, str(exc).split(": ", 1)[1]) from None


def _read_on(t: Table, name: str) -> tuple[str, ...]:
    values = t.str_list(name)
    for value in values:
        if value not in CHANGES:
            raise t.error(name, f"{value!r} is not one of {', '.join(CHANGES)}")
    return values


_READERS: dict[str, Reader] = {
    "settle": _read_settle,
    "on": _read_on,
    "initial": lambda t, name: t.get_choice(name, INITIAL_MODES),
    "params": lambda t, name: dict(t.table(name).data),
}
