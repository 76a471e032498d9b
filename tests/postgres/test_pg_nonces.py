"""Webhook nonces shared by every node: one acceptance per nonce, even when nodes race."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio
import pytest

from stargraph.store.base import BatchNonceStore, NonceRequest
from stargraph.store.postgres import PostgresStore

from ._helpers import T0

pytestmark = pytest.mark.postgres


async def test_racing_nodes_accept_each_nonce_once(node_factory: Callable[..., Any]) -> None:
    nodes: list[PostgresStore] = [await node_factory() for _ in range(3)]
    accepted: list[str] = []

    async def deliver(store: PostgresStore, nonce: str) -> None:
        if await store.add_nonce("hook", nonce, expires_at=T0 + timedelta(minutes=5), now=T0):
            accepted.append(nonce)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(30):
                for store in nodes:
                    tg.start_soon(deliver, store, f"n{i}")
    assert sorted(accepted) == sorted(f"n{i}" for i in range(30))


async def test_batch_nonces_match_single_semantics(node: PostgresStore) -> None:
    assert isinstance(node, BatchNonceStore)
    later = T0 + timedelta(seconds=10)

    def item(nonce: str, expires: float = 60) -> NonceRequest:
        return NonceRequest(scope="s", nonce=nonce, expires_at=T0 + timedelta(seconds=expires))

    assert await node.add_nonces([item("a", 5), item("b"), item("a"), item("c")], now=T0) == [
        True, True, False, True,
    ]  # fmt: skip
    assert await node.add_nonces([item("b"), item("a", 60), item("d")], now=later) == [
        False, True, True,  # "a" expired at T0+5 and may be used again
    ]  # fmt: skip
    assert await node.add_nonces([], now=later) == []
    assert not await node.add_nonce("s", "d", expires_at=later, now=later)
