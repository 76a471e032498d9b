"""Webhook nonces shared by every node: one acceptance per nonce, even when nodes race."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import anyio
import pytest

from stargraph.store import EnqueueRequest, Nonce
from stargraph.store.postgres import PostgresStore

from ._helpers import T0, new_run

pytestmark = pytest.mark.postgres


async def add_nonces(
    store: PostgresStore, items: list[tuple[str, str, datetime]], *, now: datetime
) -> list[bool]:
    """Enqueue one delivery per ``(scope, nonce, expires_at)`` in one batch; False per replay."""
    requests = [
        EnqueueRequest(
            run=new_run(uuid.uuid4().hex, key=f"{s}:{n}", enqueued_at=now, not_before=now),
            nonce=Nonce(scope=s, nonce=n, expires_at=e),
        )
        for s, n, e in items
    ]
    return [not outcome.replay for outcome in await store.enqueue_batch(requests)]


async def add_nonce(
    store: PostgresStore, scope: str, nonce: str, *, expires_at: datetime, now: datetime
) -> bool:
    return (await add_nonces(store, [(scope, nonce, expires_at)], now=now))[0]


async def test_racing_nodes_accept_each_nonce_once(node_factory: Callable[..., Any]) -> None:
    nodes: list[PostgresStore] = [await node_factory() for _ in range(3)]
    accepted: list[str] = []

    async def deliver(store: PostgresStore, nonce: str) -> None:
        if await add_nonce(store, "hook", nonce, expires_at=T0 + timedelta(minutes=5), now=T0):
            accepted.append(nonce)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(30):
                for store in nodes:
                    tg.start_soon(deliver, store, f"n{i}")
    assert sorted(accepted) == sorted(f"n{i}" for i in range(30))


async def test_batch_nonces_match_single_semantics(node: PostgresStore) -> None:
    later = T0 + timedelta(seconds=10)

    def item(nonce: str, expires: float = 60) -> tuple[str, str, Any]:
        return ("s", nonce, T0 + timedelta(seconds=expires))

    assert await add_nonces(node, [item("a", 5), item("b"), item("a"), item("c")], now=T0) == [
        True, True, False, True,
    ]  # fmt: skip
    assert await add_nonces(node, [item("b"), item("a", 60), item("d")], now=later) == [
        False, True, True,  # "a" expired at T0+5 and may be used again
    ]  # fmt: skip
    assert await add_nonces(node, [], now=later) == []
    assert not await add_nonce(node, "s", "d", expires_at=later, now=later)
