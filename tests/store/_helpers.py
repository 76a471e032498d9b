"""Builders shared by the store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from stargraph.store import Completion, CursorAdvance, EnqueueRequest, NewRun, RunStatus, RunStore

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


LEASE = 30.0


async def enqueue(store: RunStore, *runs: NewRun) -> list[str]:
    """Enqueue *runs* (all new) in one batch; return their ids."""
    outcomes = await store.enqueue_batch([req(r) for r in runs])
    assert not any(o.deduplicated for o in outcomes)
    return [o.run_id for o in outcomes]


async def claim(
    store: RunStore, owner: str = "node-a", limit: int = 100, now: float = 1000.0, **kw: object
) -> list[str]:
    """Claim as *owner* at ``at(now)``; return the claimed ids in order."""
    runs = await store.claim(
        owner=owner,
        limit=limit,
        now=at(now),
        lease_seconds=kw.pop("lease", LEASE),  # type: ignore[arg-type]
        graph_limits=kw.pop("graph_limits", {}),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )
    return [r.run_id for r in runs]


def ok(run_id: str, result: object = None) -> Completion:
    """A success completion."""
    return Completion(run_id=run_id, status=RunStatus.succeeded, result=result)
