"""NATS JetStream through nats-py (the official client) on a private asyncio loop in a thread.

Why: nats-py is asyncio-only, so it cannot run on the host's loop under trio, and no
maintained sync or anyio-native NATS client exists. The adapter gives it its own asyncio loop in
a dedicated thread and exposes the same blocking calls as the other adapters; the consumer
drives them from worker threads, so the trigger runs the same on asyncio and trio.

Consumer: a durable pull consumer named ``group`` with explicit acks, ``ack_wait =
redeliver_seconds`` and ``max_ack_pending = max_in_flight``, on the stream that holds the
subject ``source`` (created as ``SG_<subject>`` when none does). Identity: the
``Nats-Msg-Id`` header when the publisher set one (JetStream also drops such duplicates inside
its duplicate window), else ``<stream>:<stream sequence>``. Ack point: ``+ACK`` after the runs
committed (flushed); an unacked message is redelivered after ``ack_wait``.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

from stargraph.triggers.queue.core import Delivery
from stargraph.triggers.queue.spec import QueueSpec

__all__ = ["LoopThread", "NatsClient", "make_client", "stream_name"]

T = TypeVar("T")
_CALL_BOUND = 15.0


def stream_name(subject: str) -> str:
    """The stream created for *subject* when no stream holds it yet."""
    return "SG_" + re.sub(r"[^A-Za-z0-9_-]", "_", subject)


class LoopThread:
    """An asyncio event loop in its own daemon thread; :meth:`call` runs a coroutine there."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = _CALL_BOUND) -> T:
        """Run *coro* on the loop and wait for its result (at most *timeout* seconds)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        """Stop the loop, join the thread, close the loop."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


class NatsClient:
    """One durable pull consumer of ``spec.source``."""

    def __init__(self, spec: QueueSpec) -> None:
        self.spec = spec
        self._loop: LoopThread | None = None
        self._nc: Client | None = None
        self._sub: Any = None
        self.stream = ""

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = _CALL_BOUND) -> T:
        assert self._loop is not None, "connect() first"
        return self._loop.call(coro, timeout)

    def connect(self) -> None:
        """Connect, find or create the stream, bind the durable consumer."""
        self._loop = LoopThread(f"stargraph-nats-{self.spec.trigger_id}")
        self._call(self._connect())

    async def _connect(self) -> None:
        self._nc = await nats.connect(
            self.spec.url, connect_timeout=5, allow_reconnect=False, max_reconnect_attempts=0
        )
        js = self._nc.jetstream()
        try:
            self.stream = await js.find_stream_name_by_subject(self.spec.source)
        except nats.js.errors.NotFoundError:
            self.stream = stream_name(self.spec.source)
            await js.add_stream(name=self.stream, subjects=[self.spec.source])
        config = ConsumerConfig(
            durable_name=self.spec.group,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.spec.redeliver_seconds,
            max_ack_pending=self.spec.max_in_flight,
            filter_subject=self.spec.source,
        )
        self._sub = await js.pull_subscribe(
            self.spec.source, durable=self.spec.group, stream=self.stream, config=config
        )

    def _delivery(self, msg: Msg) -> Delivery:
        headers = dict(msg.headers or {})
        meta = msg.metadata
        return Delivery(
            message_id=headers.get("Nats-Msg-Id") or f"{meta.stream}:{meta.sequence.stream}",
            body=msg.data,
            headers=headers,
            token=msg,
            published_at=meta.timestamp.timestamp() if meta.timestamp else None,
        )

    def fetch(self, max_count: int, timeout: float) -> list[Delivery]:
        """Pull up to *max_count* messages, waiting at most *timeout* for the first."""
        msgs = self._call(self._fetch(max_count, timeout), timeout + _CALL_BOUND)
        return [self._delivery(m) for m in msgs]

    async def _fetch(self, max_count: int, timeout: float) -> list[Msg]:
        try:
            msgs: list[Msg] = await self._sub.fetch(max_count, timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        return msgs

    def ack(self, tokens: list[Any]) -> None:
        """``+ACK`` every message of the batch, then flush."""
        self._call(self._ack(tokens))

    async def _ack(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            await msg.ack()
        assert self._nc is not None
        await self._nc.flush()

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Publish the body to the ``dead_letter`` subject (through JetStream when a stream
        holds it, so the publish is confirmed), with the reason in headers."""
        self._call(self._dead_letter(delivery, reason))

    async def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        assert self._nc is not None and self.spec.dead_letter is not None
        headers = {"Stargraph-Reason": reason, "Stargraph-Original-Id": delivery.message_id}
        try:
            await self._nc.jetstream().publish(
                self.spec.dead_letter, delivery.body, headers=headers
            )
        except nats.js.errors.NoStreamResponseError:
            await self._nc.publish(self.spec.dead_letter, delivery.body, headers=headers)
            await self._nc.flush()

    def pending(self) -> dict[str, int]:
        """The consumer's ``pending`` (delivered, unacked) and ``lag`` (not yet delivered)."""
        info = self._call(self._sub.consumer_info())
        return {"pending": int(info.num_ack_pending or 0), "lag": int(info.num_pending or 0)}

    def close(self) -> None:
        """Close the connection (the durable consumer stays) and stop the private loop."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            if self._nc is not None and not self._nc.is_closed:
                loop.call(self._nc.close(), 5)
        finally:
            loop.stop()


def make_client(spec: QueueSpec) -> NatsClient:
    """The factory the trigger calls (one client per consumer run)."""
    return NatsClient(spec)
