"""Builders shared by the store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from stargraph.store import CursorAdvance, EnqueueRequest, NewRun

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``T0`` plus *seconds*."""
    return T0 + timedelta(seconds=seconds)


def new_run(
    run_id: str,
    *,
    graph: str = "g",
    key: str | None = None,
    enqueued: float = 0.0,
    due: float | None = None,
    max_attempts: int = 1,
    **fields: Any,
) -> NewRun:
    """A run enqueued at ``at(enqueued)``, due at ``at(due)`` (default: when enqueued)."""
    return NewRun(
        run_id=run_id,
        graph_id=graph,
        idempotency_key=key if key is not None else f"key-{run_id}",
        enqueued_at=at(enqueued),
        not_before=at(enqueued if due is None else due),
        max_attempts=max_attempts,
        **fields,
    )


def req(run: NewRun, cursor: tuple[str, datetime] | None = None) -> EnqueueRequest:
    """An enqueue request, with an optional ``(trigger_id, cursor)`` advance."""
    advance = None if cursor is None else CursorAdvance(trigger_id=cursor[0], cursor=cursor[1])
    return EnqueueRequest(run=run, cursor=advance)
