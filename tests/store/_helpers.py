"""Builders shared by the store tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from stargraph.store import (
    Completion,
    CursorAdvance,
    EnqueueRequest,
    NewRun,
    Nonce,
    RunStatus,
    RunStore,
)

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


def nonce_req(scope: str, nonce: str, *, expires_at: datetime, now: datetime) -> EnqueueRequest:
    """A webhook delivery's enqueue: its run (keyed by the nonce) at *now*, and its nonce."""
    run = new_run(
        uuid.uuid4().hex,
        key=f"{scope}:{nonce}",
        enqueued=(now - T0).total_seconds(),
    )
    return EnqueueRequest(run=run, nonce=Nonce(scope=scope, nonce=nonce, expires_at=expires_at))


async def add_nonce(
    store: RunStore, scope: str, nonce: str, *, expires_at: datetime, now: datetime
) -> bool:
    """Record a nonce with its delivery's run; ``False`` for a replay (an unexpired copy)."""
    (outcome,) = await store.enqueue_batch(
        [nonce_req(scope, nonce, expires_at=expires_at, now=now)]
    )
    return not outcome.replay


async def add_nonces(
    store: RunStore, items: list[tuple[str, str, datetime]], *, now: datetime
) -> list[bool]:
    """Record ``(scope, nonce, expires_at)`` items in one enqueue batch; ``False`` per replay."""
    requests = [nonce_req(s, n, expires_at=e, now=now) for s, n, e in items]
    return [not o.replay for o in await store.enqueue_batch(requests)]


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
