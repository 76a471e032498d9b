"""Enqueue-time checks: params snapshots and trigger sources (keys and fire times are checked
by :mod:`stargraph.triggers`, shared with :class:`~stargraph.triggers.TriggerEvent`), and the
run ids minted at enqueue."""

from __future__ import annotations

import os
import threading
from typing import Any

from stargraph._json import ensure_json_object, is_flat_json_object
from stargraph.errors import InvalidParams
from stargraph.triggers import TriggerSource

__all__ = ["PLANNED_SOURCES", "new_run_id", "snapshot_params", "stored_source"]


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


_IDS_PER_DRAW = 4096


class _RandomPool(threading.local):
    """Random bytes drawn from ``os.urandom`` 4,096 ids (64 KiB) at a time, per thread."""

    def __init__(self) -> None:
        self.buffer, self.offset = b"", 0


_pool = _RandomPool()


def _reset_pool() -> None:
    """A forked child draws its own bytes: it must never mint the parent's next ids."""
    global _pool
    _pool = _RandomPool()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool)


def new_run_id() -> str:
    """A random UUID version 4 as 32 hex digits, like ``uuid.uuid4().hex`` at a fraction of the
    cost: no ``UUID`` object, and one ``os.urandom`` call per 4,096 ids (per thread; reset in a
    forked child). One per enqueue, so it counts in a burst of 10,000 fires: each ``urandom``
    call releases the GIL, and taking it back from the store's thread cost ~15 µs a call."""
    pool = _pool
    offset = pool.offset
    if offset >= len(pool.buffer):
        pool.buffer, offset = os.urandom(16 * _IDS_PER_DRAW), 0
    pool.offset = offset + 16
    raw = bytearray(pool.buffer[offset : offset + 16])
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return raw.hex()
