"""The ack-after-commit loop shared by every broker: fetch, enqueue, await commit, then ack.

One :class:`QueueConsumer` per ``[[queue]]`` entry. It fetches a batch (never more than
``max_in_flight`` messages unacked in all), enqueues it (waiting out ``SchedulerBusy`` without
pulling more), and hands the receipts to an acker task that awaits every one -- the runs are
durable -- and only then acknowledges the batch; batches are acked in the order fetched.
A crash anywhere before the ack leaves the messages unacknowledged, so the broker delivers
them again and the idempotency key turns them into the existing runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream
from prometheus_client import Counter

from stargraph._log import log_event
from stargraph.errors import InvalidParams, InvalidTriggerEvent, SchedulerBusy
from stargraph.triggers.queue.core import (
    BrokerClient,
    Delivery,
    Poison,
    decode,
    idempotency_key,
)
from stargraph.triggers.queue.spec import QueueSpec

__all__ = ["POLL_SECONDS", "QueueConsumer"]

logger = logging.getLogger("stargraph.triggers.queue")
POLL_SECONDS = 0.2  # the longest a fetch blocks, so a stop or pause is prompt
STATS_EVERY = 2.0  # seconds between pending/lag refreshes
_CLOSE_BOUND = 5.0
T = TypeVar("T")
#: ``emit(spec, params, key) -> receipt``: the trigger's way into the scheduler.
Emit = Callable[[QueueSpec, dict[str, Any], str], Any]
_Batch = tuple[list[Delivery], list[Any]]


class QueueConsumer:
    """Consumes one source for one spec; :meth:`run` until cancelled (or the broker fails)."""

    def __init__(
        self,
        spec: QueueSpec,
        make_client: Callable[[QueueSpec], BrokerClient],
        emit: Emit,
        counter: Counter,
    ) -> None:
        self.spec = spec
        self._make_client = make_client
        self._emit = emit
        self._counter = counter
        self.connected = False
        self.last_message: datetime | None = None
        self.stats: dict[str, int] = {}
        self._limiter: anyio.CapacityLimiter | None = None
        self._lock = threading.Lock()
        self._client: BrokerClient | None = None
        self._stats_at = 0.0
        self._free = spec.max_in_flight
        self._freed: anyio.Event | None = None
        self._batch = spec.max_in_flight

    @property
    def in_flight(self) -> int:
        """Messages fetched and not yet acknowledged (at most ``max_in_flight``)."""
        return self.spec.max_in_flight - self._free

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking client call in a worker thread, one at a time per connection."""
        assert self._limiter is not None
        return await anyio.to_thread.run_sync(
            self._locked, fn, *args, limiter=self._limiter, abandon_on_cancel=True
        )

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        # A cancelled call is abandoned, not stopped: the lock makes the next call (``close``)
        # wait in its own thread until the abandoned one (at most one poll) has returned.
        with self._lock:
            return fn(*args)

    async def run(self) -> None:
        """Connect, then consume until cancelled; the connection is closed on the way out."""
        self._limiter = anyio.CapacityLimiter(1)
        client = self._client = self._make_client(self.spec)
        try:
            await self._call(client.connect)
            self.connected = True
            log_event(
                logger,
                "queue.connected",
                trigger_id=self.spec.trigger_id,
                kind=self.spec.kind,
                source=self.spec.source,
            )
            await self._pump(client)
        finally:
            self.connected = False
            self._free = self.spec.max_in_flight  # what was in flight goes back to the broker
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_BOUND):
                await self._call(client.close)

    async def _refresh_stats(self, client: BrokerClient) -> None:
        if anyio.current_time() - self._stats_at >= STATS_EVERY:
            self._stats_at = anyio.current_time()
            self.stats = await self._call(client.pending)

    async def _pump(self, client: BrokerClient) -> None:
        """Fetch and enqueue in this task; await commits and ack in the acker, in order.

        The next batch is fetched while the previous one commits; ``_free`` keeps the
        messages held unacked at or below ``max_in_flight``.
        """
        self._free = self.spec.max_in_flight
        # Half the budget per batch: one batch commits while the next is fetched and enqueued.
        self._batch = max(1, self.spec.max_in_flight // 2)
        send, receive = anyio.create_memory_object_stream[_Batch](self.spec.max_in_flight)
        async with send, receive, anyio.create_task_group() as tg:
            tg.start_soon(self._acker, client, receive)
            while True:
                while self._free <= 0:
                    freed = self._freed = anyio.Event()
                    await freed.wait()
                size = min(self._free, self._batch)
                batch = await self._call(client.fetch, size, POLL_SECONDS)
                if batch:
                    self._free -= len(batch)
                    await send.send((batch, await self._submit(client, batch)))
                await self._refresh_stats(client)

    async def _submit(self, client: BrokerClient, batch: list[Delivery]) -> list[Any]:
        """Enqueue every decodable message; dead-letter or reject the rest; return receipts."""
        self.last_message = datetime.now(UTC)
        waiting: list[Any] = []
        for delivery in batch:
            params = decode(delivery, self.spec)
            if not isinstance(params, Poison):
                receipt = await self._enqueue(delivery, params)
                if receipt is not None:
                    waiting.append(receipt)
                    continue
                params = Poison("invalid_params")
            await self._poison(client, delivery, params.reason)
        return waiting

    async def _acker(
        self, client: BrokerClient, receive: MemoryObjectReceiveStream[_Batch]
    ) -> None:
        async for batch, receipts in receive:
            for receipt in receipts:
                result = await receipt  # durable from here on; a store error raises: no ack
                self._count("deduplicated" if result.deduplicated else "enqueued")
            await self._call(client.ack, [d.token for d in batch])
            self._free += len(batch)
            if self._freed is not None:
                self._freed.set()

    async def _enqueue(self, delivery: Delivery, params: dict[str, Any]) -> Any:
        """Enqueue; on SchedulerBusy pull nothing more and retry until the intake drains."""
        key = idempotency_key(self.spec.trigger_id, delivery.message_id)
        delay = 0.005
        while True:
            try:
                return self._emit(self.spec, params, key)
            except SchedulerBusy:
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.5)
            except (InvalidParams, InvalidTriggerEvent):
                return None

    async def _poison(self, client: BrokerClient, delivery: Delivery, reason: str) -> None:
        """Dead-letter (when configured) or reject *delivery*; it is acked with its batch."""
        outcome = "rejected"
        if self.spec.dead_letter is not None:
            await self._call(client.dead_letter, delivery, reason)
            outcome = "dead_lettered"
        self._count(outcome)
        log_event(
            logger,
            f"queue.message.{outcome}",
            logging.WARNING,
            trigger_id=self.spec.trigger_id,
            message_id=delivery.message_id,
            reason=reason,
            size=len(delivery.body),
        )

    def _count(self, outcome: str) -> None:
        self._counter.labels(trigger_id=self.spec.trigger_id, outcome=outcome).inc()
