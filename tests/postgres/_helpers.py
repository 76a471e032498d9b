"""Builders for the PostgreSQL tests (kept apart from the contract suite's own helpers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from stargraph.store import EnqueueRequest, NewRun

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``T0`` plus *seconds*."""
    return T0 + timedelta(seconds=seconds)


def new_run(run_id: str, *, graph: str = "g", key: str | None = None, **fields: Any) -> NewRun:
    """A run of *graph* enqueued and due at ``T0``."""
    return NewRun(
        run_id=run_id,
        graph_id=graph,
        idempotency_key=key if key is not None else f"key-{run_id}",
        enqueued_at=fields.pop("enqueued_at", T0),
        not_before=fields.pop("not_before", T0),
        **fields,
    )


def req(run: NewRun) -> EnqueueRequest:
    """An enqueue request without a cursor advance."""
    return EnqueueRequest(run=run)
