"""Group-committed replay nonces: the SQLite batch method and the NonceWriter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from stargraph.errors import StoreError
from stargraph.store import open_store
from stargraph.store.base import BatchNonceStore, NonceRequest
from stargraph.triggers.webhook.nonces import NonceWriter

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_sqlite_add_nonces_one_transaction_semantics(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    await store.open()
    try:
        assert isinstance(store, BatchNonceStore)
        assert await store.add_nonce("a", "old", expires_at=at(10), now=at(0))
        items = [
            NonceRequest(scope="a", nonce=n, expires_at=at(300)) for n in ("n1", "n2", "n1", "old")
        ]
        items.append(NonceRequest(scope="b", nonce="n1", expires_at=at(300)))
        assert await store.add_nonces(items, now=at(5)) == [True, True, False, False, True]
        # After expiry a nonce may be recorded again.
        assert await store.add_nonces([items[3]], now=at(11)) == [True]
        assert not await store.add_nonce("a", "n2", expires_at=at(600), now=at(299))
        assert await store.add_nonces([], now=at(0)) == []
    finally:
        await store.close()


async def test_writer_batches_concurrent_deliveries(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    await store.open()
    calls: list[int] = []
    real = store.add_nonces  # type: ignore[attr-defined]

    async def counting(items: Any, *, now: datetime) -> list[bool]:
        calls.append(len(items))
        return await real(items, now=now)

    store.add_nonces = counting  # type: ignore[attr-defined]
    writer = NonceWriter(store)
    results: list[bool] = []
    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                await tg.start(writer.run)
                assert writer.batching

                async def add(n: str) -> None:
                    results.append(await writer.add("s", n, expires_at=at(1e9), now=at(0)))

                for i in range(200):
                    tg.start_soon(add, f"n{i % 150}")
                await anyio.sleep(0.5)
                tg.cancel_scope.cancel()
        assert sum(results) == 150 and len(results) == 200
        assert sum(calls) == 200 and len(calls) < 50  # batched, not one call per nonce
        assert not writer.batching
        # Not running: falls back to one add_nonce per call.
        assert not await writer.add("s", "n1", expires_at=at(1e9), now=at(0))
        assert await writer.add("s", "fresh", expires_at=at(1e9), now=at(0))
    finally:
        await store.close()


async def test_writer_reports_store_errors(sqlite_url: str) -> None:
    class Broken:
        async def add_nonces(self, items: Any, *, now: datetime) -> list[bool]:
            raise RuntimeError("disk on fire")

        async def add_nonce(self, *a: Any, **k: Any) -> bool:
            raise AssertionError("not used while batching")

    writer = NonceWriter(Broken())
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(writer.run)
            with pytest.raises(StoreError, match="disk on fire"):
                await writer.add("s", "n", expires_at=at(10), now=at(0))
            tg.cancel_scope.cancel()
