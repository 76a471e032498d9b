"""Enqueue-time checks: params snapshots and trigger sources (keys and fire times are checked
by :mod:`stargraph.triggers`, shared with :class:`~stargraph.triggers.TriggerEvent`)."""

from __future__ import annotations

import math
from typing import Any, TypeGuard

from stargraph._json import ensure_json_object
from stargraph.errors import InvalidParams
from stargraph.triggers import TriggerSource

__all__ = ["snapshot_params", "stored_source"]


# perf: benchmarks/scheduler_enqueue.py, scheduler_apscheduler.py (no deep copy for flat params)
def _is_flat_json(params: object) -> TypeGuard[dict[str, Any]]:
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


def snapshot_params(params: object, graph_id: str) -> dict[str, Any]:
    """Return a private JSON-object copy of *params*; InvalidParams if it is not one."""
    if params is None:
        return {}
    if _is_flat_json(params):  # the common case: a shallow copy is already a snapshot
        return dict(params)
    try:
        return ensure_json_object(params, f"params of graph {graph_id!r}")
    except ValueError as exc:
        raise InvalidParams(str(exc)) from None


def stored_source(source: object) -> str:
    """The stored string of a trigger source; InvalidParams for one that is not a TriggerSource."""
    try:
        return _SOURCES[source]
    except (KeyError, TypeError):
        raise InvalidParams(
            f"trigger_source must be one of {', '.join(TriggerSource)}, got {source!r:.80}"
        ) from None


_SOURCES: dict[object, str] = {member: member.value for member in TriggerSource}
