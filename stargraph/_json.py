"""JSON value types and the check that run params and payloads are JSON objects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeAlias

__all__ = ["JSONObject", "JSONValue", "dumps", "ensure_json_object"]

JSONValue: TypeAlias = Any
JSONObject: TypeAlias = dict[str, Any]


def dumps(value: JSONValue) -> str:
    """Serialise *value* compactly and deterministically (sorted keys)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)


def ensure_json_object(value: object, what: str) -> JSONObject:
    """Return *value* as a plain JSON object, or raise ``ValueError`` naming *what*.

    The value must be a mapping with string keys whose content survives a JSON round trip
    (no NaN, no sets, no arbitrary objects).
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a JSON object (a dict), got {type(value).__name__}")
    try:
        text = dumps(dict(value))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON-serialisable: {exc}") from None
    loaded: JSONObject = json.loads(text)
    return loaded
