"""JSON value types and the check that run params and payloads are JSON objects."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, TypeAlias, TypeGuard

__all__ = ["JSONObject", "JSONValue", "dumps", "ensure_json_object", "is_flat_json_object"]

JSONValue: TypeAlias = Any
JSONObject: TypeAlias = dict[str, Any]


def dumps(value: JSONValue) -> str:
    """Serialise *value* compactly and deterministically (sorted keys)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)


def ensure_json_object(value: object, what: str) -> JSONObject:
    """Return *value* as a plain JSON object, or raise ``ValueError`` naming *what*.

    The value must be a mapping whose content survives a JSON round trip (no NaN, no sets, no
    arbitrary objects); non-string scalar keys become strings, as JSON makes them.
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
    return loaded


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
    if kind is str or kind is int or kind is bool or value is None:
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
            if type(key) is not str:
                raise _NotPlain
            out[key] = _plain_copy(item, depth + 1)
        return out
    if kind is list:
        return [_plain_copy(item, depth + 1) for item in value]
    raise _NotPlain


# perf: benchmarks/scheduler_enqueue.py, scheduler_apscheduler.py (no deep copy for flat params)
def is_flat_json_object(params: object) -> TypeGuard[dict[str, Any]]:
    """True for a plain dict of string keys and str/int/bool/None/finite-float values."""
    if type(params) is not dict:
        return False
    for key, value in params.items():
        if type(key) is not str:
            return False
        kind = type(value)
        if not (
            value is None
            or kind is str
            or kind is int
            or kind is bool
            or (kind is float and math.isfinite(value))
        ):
            return False
    return True
