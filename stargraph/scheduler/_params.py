"""Enqueue-time checks: params snapshots and trigger sources (keys and fire times are checked
by :mod:`stargraph.triggers`, shared with :class:`~stargraph.triggers.TriggerEvent`)."""

from __future__ import annotations

from typing import Any

from stargraph._json import ensure_json_object, is_flat_json_object
from stargraph.errors import InvalidParams
from stargraph.triggers import TriggerSource

__all__ = ["PLANNED_SOURCES", "snapshot_params", "stored_source"]


def snapshot_params(params: object, graph_id: str) -> dict[str, Any]:
    """Return a private JSON-object copy of *params*; InvalidParams if it is not one."""
    if params is None:
        return {}
    if is_flat_json_object(params):  # the common case: a shallow copy is already a snapshot
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
PLANNED_SOURCES = frozenset(member.value for member in TriggerSource if member.planned)
