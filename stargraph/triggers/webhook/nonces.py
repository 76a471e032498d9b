"""Group commit for webhook replay nonces.

Recording a nonce is a store write; one transaction per delivery would cost one fsync per
request on SQLite. :class:`NonceWriter` queues the nonces of concurrent deliveries and records
each batch with one :meth:`~stargraph.store.base.BatchNonceStore.add_nonces` call (one
transaction). A store without that method, or a writer that is not running, falls back to one
:meth:`~stargraph.store.base.RunStore.add_nonce` per delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectSendStream

from stargraph.errors import StoreError
from stargraph.store.base import BatchNonceStore, NonceRequest

__all__ = ["NonceWriter"]


class _Slot:
    """One queued nonce and, once committed, whether it was fresh."""

    __slots__ = ("error", "event", "fresh", "now", "request")

    def __init__(self, request: NonceRequest, now: datetime) -> None:
        self.request = request
        self.now = now
        self.fresh: bool | None = None
        self.error: BaseException | None = None
        self.event = anyio.Event()

    def resolve(self, fresh: bool | None, error: BaseException | None = None) -> None:
        self.fresh, self.error = fresh, error
        self.event.set()


class NonceWriter:
    """Records replay nonces in batches, one store transaction per batch."""

    def __init__(self, store: Any, *, capacity: int = 10_000, batch_size: int = 1000) -> None:
        self._store = store
        self._capacity = capacity
        self._batch_size = batch_size
        self._send: MemoryObjectSendStream[_Slot] | None = None

    @property
    def batching(self) -> bool:
        """True while the writer task runs and the store can batch."""
        return self._send is not None

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Commit queued nonces until cancelled (start it in the trigger's task group)."""
        if not isinstance(self._store, BatchNonceStore):
            task_status.started()
            return
        send, receive = anyio.create_memory_object_stream[_Slot](self._capacity)
        self._send = send
        task_status.started()
        batch: list[_Slot] = []
        try:
            while True:
                batch = [await receive.receive()]
                while len(batch) < self._batch_size:
                    try:
                        batch.append(receive.receive_nowait())
                    except anyio.WouldBlock:
                        break
                await self._commit(batch)
                batch = []
        finally:
            self._send = None
            send.close()
            closed = StoreError("the webhook nonce writer stopped before committing")
            for slot in [*batch, *_drain(receive)]:
                slot.resolve(None, closed)
            receive.close()

    async def _commit(self, batch: list[_Slot]) -> None:
        now = max(slot.now for slot in batch)
        try:
            fresh = await self._store.add_nonces([slot.request for slot in batch], now=now)
        except Exception as exc:
            err = exc if isinstance(exc, StoreError) else StoreError(f"add_nonces failed: {exc}")
            for slot in batch:
                slot.resolve(None, err)
            return
        for slot, flag in zip(batch, fresh, strict=True):
            slot.resolve(bool(flag))

    async def add(self, scope: str, nonce: str, *, expires_at: datetime, now: datetime) -> bool:
        """Record *nonce* in *scope*; ``False`` if it is a replay (see ``RunStore.add_nonce``)."""
        send = self._send
        if send is not None:
            slot = _Slot(NonceRequest(scope=scope, nonce=nonce, expires_at=expires_at), now)
            try:
                send.send_nowait(slot)
            except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass
            else:
                await slot.event.wait()
                if slot.error is not None:
                    raise slot.error
                return bool(slot.fresh)
        fresh: bool = await self._store.add_nonce(scope, nonce, expires_at=expires_at, now=now)
        return fresh


def _drain(receive: Any) -> list[_Slot]:
    out: list[_Slot] = []
    while True:
        try:
            out.append(receive.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
            return out
