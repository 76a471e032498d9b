"""Typed, located reads from one TOML table; every bad value becomes a :class:`ConfigError`.

A :class:`Table` knows the file it came from and its dotted key prefix, so each error names the
file, the full key and the reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from stargraph.errors import ConfigError

__all__ = ["Table"]

T = TypeVar("T")
_MISSING: Any = object()


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
