"""The numeric ``attrs`` validators of every settings class; they raise one error type.

A value a user configures (``SchedulerSettings``, ``RunPolicy``, ``HostOptions``, trigger specs)
that is out of range raises :class:`InvalidField`, a :class:`~stargraph.errors.ConfigError`
whose message names the class, the field and the value: ``RunPolicy.max_attempts must be at
least 1, got 0``. The config loader re-raises it as ``<file>: <table>.<key>: <reason>``. (Run
params are not configuration: they raise :class:`~stargraph.errors.InvalidParams`.)

Booleans are rejected where a number is expected (``True`` is an ``int`` in Python).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from stargraph.errors import ConfigError

__all__ = [
    "InvalidField",
    "Validator",
    "at_least",
    "int_at_most",
    "non_negative",
    "non_negative_int",
    "optional",
    "positive",
    "positive_int",
]

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


class InvalidField(ConfigError):
    """A field of a settings class holds a bad value; ``field`` and ``reason`` say which."""

    def __init__(self, owner: str, field: str, reason: str) -> None:
        self.owner = owner
        self.field = field
        self.reason = reason
        super().__init__(f"{owner}.{field} {reason}")


def _fail(inst: object, attr: attrs.Attribute[Any], reason: str) -> InvalidField:
    return InvalidField(type(inst).__name__, attr.name, reason)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive(inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    """A finite number above 0."""
    if not _is_number(value):
        raise _fail(inst, attr, f"must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise _fail(inst, attr, f"must be a finite number above 0, got {value!r}")


def non_negative(inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    """A finite number >= 0."""
    if not _is_number(value):
        raise _fail(inst, attr, f"must be a number, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise _fail(inst, attr, f"must be a finite number >= 0, got {value!r}")


def positive_int(inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    """An integer >= 1."""
    if not _is_int(value):
        raise _fail(inst, attr, f"must be an integer, got {value!r}")
    if value < 1:
        raise _fail(inst, attr, f"must be at least 1, got {value}")


def non_negative_int(inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    """An integer >= 0."""
    if not _is_int(value):
        raise _fail(inst, attr, f"must be an integer, got {value!r}")
    if value < 0:
        raise _fail(inst, attr, f"must be at least 0, got {value}")


def optional(check: Validator) -> Validator:
    """``None``, or a value that passes *check*."""

    def validate(inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            check(inst, attr, value)

    return validate


def at_least(low: float, why: str) -> Validator:
    """A finite number >= *low*; *why* (the reason for the floor) ends the message."""

    def validate(inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        positive(inst, attr, value)
        if value < low:
            raise _fail(inst, attr, f"must be at least {low:g} ({why}), got {value!r}")

    return validate


def int_at_most(high: int, why: str) -> Validator:
    """An integer 1..*high*; *why* (the reason for the ceiling) ends the message."""

    def validate(inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        positive_int(inst, attr, value)
        if value > high:
            raise _fail(inst, attr, f"must be at most {high} ({why}), got {value}")

    return validate
