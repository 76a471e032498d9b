"""The ack-after-commit loop shared by every broker: fetch, enqueue, await commit, then ack.

One :class:`QueueConsumer` per ``[[queue]]`` entry. Each pass fetches at most
``max_in_flight`` messages, enqueues them (waiting out ``SchedulerBusy`` without pulling
more), awaits every receipt -- the runs are durable -- and only then acknowledges the whole
batch. A crash anywhere before the ack leaves the messages unacknowledged, so the broker
delivers them again and the idempotency key turns them into the existing runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
from prometheus_client import Counter

from stargraph._log import log_event
from stargraph.errors import InvalidParams, SchedulerBusy
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
            while True:
                batch = await self._call(client.fetch, self.spec.max_in_flight, POLL_SECONDS)
                if batch:
                    await self._handle(client, batch)
                await self._refresh_stats(client)
        finally:
            self.connected = False
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_BOUND):
                await self._call(client.close)

    async def _refresh_stats(self, client: BrokerClient) -> None:
        if anyio.current_time() - self._stats_at >= STATS_EVERY:
            self._stats_at = anyio.current_time()
            self.stats = await self._call(client.pending)

    async def _handle(self, client: BrokerClient, batch: list[Delivery]) -> None:
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
        for receipt in waiting:
            result = await receipt  # durable from here on; a store error raises: no ack
            self._count("deduplicated" if result.deduplicated else "enqueued")
        await self._call(client.ack, [d.token for d in batch])

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
            except InvalidParams:
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
