"""JSON value types and the check that run params and payloads are JSON objects."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, TypeAlias, TypeGuard

__all__ = [
    "JSONObject",
    "JSONValue",
    "dumps",
    "ensure_json_object",
    "is_flat_json_object",
    "storable_text",
    "unstorable_reason",
]

JSONValue: TypeAlias = Any
JSONObject: TypeAlias = dict[str, Any]


def dumps(value: JSONValue) -> str:
    """Serialise *value* compactly and deterministically (sorted keys)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)


# NUL and lone surrogates: PostgreSQL text/jsonb refuses both, SQLite's UTF-8 bind the latter
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> bool:
    """True if every store can hold *text*: no NUL character, no unpaired surrogate."""
    if text.isascii():
        return "\x00" not in text
    return _UNSTORABLE.search(text) is None


def unstorable_reason(text: str) -> str | None:
    """Why no store can hold *text* (naming the character and its index), or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    name = "a NUL character" if char == "\x00" else f"an unpaired surrogate U+{ord(char):04X}"
    return (
        f"{name} at index {found.start()} (no store can hold it; send text that encodes "
        "as UTF-8 without NUL)"
    )


def ensure_json_object(value: object, what: str) -> JSONObject:
    """Return *value* as a plain JSON object, or raise ``ValueError`` naming *what*.

    The value must be a mapping whose content survives a JSON round trip (no NaN, no sets, no
    arbitrary objects) into a store (no string or key with a NUL or an unpaired surrogate,
    see :func:`storable_text`); non-string scalar keys become strings, as JSON makes them.
    """
    if value is None:
        return {}
    if type(value) is dict:
        try:
            copied: JSONObject = _plain_copy(value, 0)
        except _NotPlain:
            pass  # anything else takes the JSON round trip, with its exact errors and output
        else:
            return copied
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a JSON object (a dict), got {type(value).__name__}")
    try:
        text = dumps(dict(value))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON-serialisable: {exc}") from None
    loaded: JSONObject = json.loads(text)
    _check_storable(loaded, what)
    return loaded


def _check_storable(tree: JSONObject, what: str) -> None:
    """Raise ``ValueError`` naming the first string or key of *tree* no store can hold."""
    stack: list[tuple[Any, str]] = [(tree, "")]
    while stack:  # iterative: a deep tree must not exhaust the interpreter's stack
        value, path = stack.pop()
        if type(value) is str:
            reason = unstorable_reason(value)
            if reason is not None:
                raise ValueError(f"{what}{path} has {reason}")
        elif type(value) is dict:
            for key, item in value.items():
                reason = unstorable_reason(key)
                if reason is not None:
                    raise ValueError(f"{what}{path} has a key with {reason}")
                stack.append((item, f"{path}[{key!r:.40}]"))
        elif type(value) is list:
            stack.extend((item, f"{path}[{n}]") for n, item in enumerate(value))


class _NotPlain(Exception):
    """The value is not a plain JSON tree; take the round trip instead."""


_MAX_DEPTH = 64  # deeper (or circular) values take the round trip, which reports them


def _plain_copy(value: Any, depth: int) -> Any:
    """Deep-copy a tree of dict (str keys) / list / str / int / bool / None / finite float.

    Exactly what ``json.loads(dumps(value))`` returns for such a tree (up to key order), in a
    fraction of the time; raise :class:`_NotPlain` for anything else (NaN, tuples, non-str
    keys, subclasses, other objects), so the caller falls back to the round trip.
    """
    kind = type(value)
    if kind is str:
        if (value.isascii() and "\x00" not in value) or storable_text(value):
            return value
        raise _NotPlain  # the round trip reports it
    if kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        raise _NotPlain
    if depth >= _MAX_DEPTH:
        raise _NotPlain
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str or not storable_text(key):
                raise _NotPlain
            out[key] = _plain_copy(item, depth + 1)
        return out
    if kind is list:
        return [_plain_copy(item, depth + 1) for item in value]
    raise _NotPlain


# perf: benchmarks/scheduler_enqueue.py, scheduler_apscheduler.py (no deep copy for flat params)
def is_flat_json_object(params: object) -> TypeGuard[dict[str, Any]]:
    """True for a plain dict of string keys and str/int/bool/None/finite-float values, every
    string and key storable (:func:`storable_text`; ASCII without NUL is checked inline)."""
    if type(params) is not dict:
        return False
    for key, value in params.items():
        if type(key) is not str:
            return False
        if not ((key.isascii() and "\x00" not in key) or storable_text(key)):
            return False
        kind = type(value)
        if kind is str:
            if not ((value.isascii() and "\x00" not in value) or storable_text(value)):
                return False
        elif not (
            value is None or kind is int or kind is bool or (kind is float and math.isfinite(value))
        ):
            return False
    return True
