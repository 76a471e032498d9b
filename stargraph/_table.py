"""Typed, located reads from one TOML table; every bad value becomes a :class:`ConfigError`.

A :class:`Table` knows the file it came from and its dotted key prefix, so each error names the
file, the full key and the reason. The config loader reads ``[scheduler]`` and ``[graphs.<id>]``
with it, and each trigger spec reads its own entry (``CronSpec.from_table``). The keys a domain
class accepts, their TOML types and their defaults come from its ``attrs`` fields
(:meth:`Table.read_fields`), so each default is written once, on the class.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypeVar, Union

import attrs

from stargraph._validators import InvalidField
from stargraph.errors import ConfigError

__all__ = ["Reader", "Table", "init_fields"]

T = TypeVar("T")
_MISSING: Any = object()
#: Reads key *name* of a table; given to :meth:`Table.read_fields` for a field's special form.
Reader = Callable[["Table", str], Any]


def init_fields(cls: type, *, exclude: Iterable[str] = ()) -> list[str]:
    """The keyword names ``cls(...)`` accepts (its ``attrs`` init fields), minus *exclude*."""
    skip = set(exclude)
    return [f.alias for f in attrs.fields(cls) if f.init and f.alias not in skip]


def _plain(hint: Any) -> Any:
    """``X`` for ``X | None``; other hints unchanged."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


class Table:
    """One TOML table (``[serve]``, one ``[[cron]]`` entry, ...) read with type checks."""

    def __init__(self, data: Mapping[str, Any], *, source: str, prefix: str) -> None:
        self.data = data
        self.source = source
        self.prefix = prefix

    def key(self, name: str) -> str:
        """Return the dotted key of *name* inside this table."""
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, reason: str) -> ConfigError:
        """Build the error for a bad *name*: ``<file>: <key>: <reason>``."""
        return ConfigError(f"{self.source}: {self.key(name)}: {reason}")

    def reject_unknown(self, allowed: Iterable[str]) -> None:
        """Raise for the first key not in *allowed* (typos fail loudly)."""
        known = sorted(allowed)
        for name in self.data:
            if name not in known:
                raise self.error(name, f"unknown key; expected one of {', '.join(known)}")

    def _get(self, name: str, default: Any, kinds: tuple[type, ...], what: str) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise self.error(name, "is required")
            return default
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(name, f"must be {what}, got {value!r}")
        if not isinstance(value, kinds):
            raise self.error(name, f"must be {what}, got {type(value).__name__} {value!r}")
        return value

    def get_str(self, name: str, default: Any = _MISSING) -> Any:
        """Return a non-empty string (or *default* when absent)."""
        value = self._get(name, default, (str,), "a string")
        if isinstance(value, str) and not value.strip():
            raise self.error(name, "must not be empty")
        return value

    def get_choice(self, name: str, options: tuple[str, ...], default: Any = _MISSING) -> Any:
        """Return one of *options*."""
        value = self.get_str(name, default)
        if value is not None and value not in options:
            raise self.error(name, f"must be one of {', '.join(options)}, got {value!r}")
        return value

    def get_bool(self, name: str, default: Any = _MISSING) -> Any:
        """Return a boolean."""
        return self._get(name, default, (bool,), "true or false")

    def get_int(self, name: str, default: Any = _MISSING, *, minimum: int | None = None) -> Any:
        """Return an integer no smaller than *minimum*."""
        value = self._get(name, default, (int,), "an integer")
        if value is not None and minimum is not None and value < minimum:
            raise self.error(name, f"must be at least {minimum}, got {value}")
        return value

    def get_number(self, name: str, default: Any = _MISSING, *, positive: bool = True) -> Any:
        """Return a finite float (integers accepted), strictly positive unless told otherwise."""
        value = self._get(name, default, (int, float), "a number")
        if value is None:
            return None
        if not math.isfinite(value) or (positive and value <= 0) or value < 0:
            need = "a finite number above 0" if positive else "a finite number >= 0"
            raise self.error(name, f"must be {need}, got {value!r}")
        return float(value)

    def get_float(self, name: str, default: Any = _MISSING) -> Any:
        """Return a number as a float (integers accepted); its range is the class's to check."""
        value = self._get(name, default, (int, float), "a number")
        return value if value is None else float(value)

    def get_typed(self, name: str, hint: Any) -> Any:
        """Read *name* (required) by its annotation: bool, int, float, str or a ``Literal``."""
        hint = _plain(hint)
        if typing.get_origin(hint) is Literal:
            return self.get_choice(name, tuple(typing.get_args(hint)))
        readers: dict[Any, Reader] = {
            bool: Table.get_bool,
            int: Table.get_int,
            float: Table.get_float,
            str: Table.get_str,
        }
        if hint not in readers:
            raise TypeError(f"no TOML reader for {self.key(name)} of type {hint!r}")
        return readers[hint](self, name)

    def read_fields(
        self, cls: type, names: Iterable[str], readers: Mapping[str, Reader] | None = None
    ) -> dict[str, Any]:
        """Read the keys *names* of ``cls``'s fields into keyword arguments.

        An absent key is left out (the class default applies) unless the field has no default
        ("is required"). A key is read by ``readers[name]`` if given, else by its annotation.
        """
        fields = {f.alias: f for f in attrs.fields(cls)}
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for name in names:
            field = fields[name]
            if name not in self.data:
                if field.default is attrs.NOTHING:
                    raise self.error(name, "is required")
                continue
            reader = (readers or {}).get(name)
            kwargs[name] = reader(self, name) if reader else self.get_typed(name, hints[field.name])
        return kwargs

    def build(self, factory: Callable[..., T], kwargs: Mapping[str, Any]) -> T:
        """Return ``factory(**kwargs)``; its validation errors are re-raised located here."""
        try:
            return factory(**kwargs)
        except InvalidField as exc:
            raise self.error(exc.field, exc.reason) from None
        except (ValueError, TypeError, LookupError) as exc:  # ConfigError included
            raise ConfigError(f"{self.source}: {self.prefix}: {exc}") from None

    def str_list(self, name: str) -> tuple[str, ...]:
        """Return a list of strings as a tuple (empty when absent)."""
        value = self._get(name, [], (list,), "a list of strings")
        for item in value:
            if not isinstance(item, str):
                raise self.error(name, f"must hold only strings, got {item!r}")
        return tuple(value)

    def table(self, name: str) -> Table:
        """Return the sub-table *name* (empty when absent)."""
        value = self._get(name, {}, (dict,), "a table")
        return Table(value, source=self.source, prefix=self.key(name))

    def tables(self, name: str) -> list[Table]:
        """Return the array of tables ``[[name]]`` (empty when absent)."""
        value = self._get(name, [], (list,), "an array of tables ([[" + name + "]])")
        out = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{name}[{index}]", "must be a table")
            out.append(Table(item, source=self.source, prefix=self.key(f"{name}[{index}]")))
        return out
