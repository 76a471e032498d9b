"""RabbitMQ (AMQP 0-9-1) through pika's ``BlockingConnection``, driven from worker threads.

Why pika: it is the client RabbitMQ's own tutorials use, maintained, and synchronous; the
anyio-native AMQP clients are young, and aio-pika/aiormq are asyncio-only. All calls on one
connection are serialised by the consumer (pika is not thread-safe, but has no thread affinity).

Identity: the ``message_id`` property, else the SHA-256 of the body (documented fallback: two
messages with identical bodies and no ``message_id`` are one run). Ack point: ``basic_ack``
(``multiple``) after the runs committed; ``basic_qos(prefetch_count=max_in_flight)`` bounds
what the broker hands over unacked. A closed connection returns every unacked message to
the queue, where it is delivered again.
"""

from __future__ import annotations

import collections
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from stargraph.triggers.queue.core import Delivery, content_id
from stargraph.triggers.queue.spec import QueueSpec

__all__ = ["AmqpClient", "make_client"]


def _headers(props: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (props.headers or {}).items()}


class AmqpClient:
    """One consumer of the durable queue ``spec.source``."""

    def __init__(self, spec: QueueSpec) -> None:
        self.spec = spec
        self._conn: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._buffer: collections.deque[Delivery] = collections.deque()

    @property
    def _ch(self) -> BlockingChannel:
        assert self._channel is not None, "connect() first"
        return self._channel

    def connect(self) -> None:
        """Connect, declare the queue (and the dead-letter queue), start consuming."""
        params = pika.URLParameters(self.spec.url)
        params.socket_timeout = 5
        params.blocked_connection_timeout = 30
        self._conn = pika.BlockingConnection(params)
        self._channel = self._conn.channel()
        self._ch.confirm_delivery()  # dead-letter publishes are confirmed before the ack
        self._ch.queue_declare(self.spec.source, durable=True)
        if self.spec.dead_letter is not None:
            self._ch.queue_declare(self.spec.dead_letter, durable=True)
        self._ch.basic_qos(prefetch_count=self.spec.max_in_flight)
        self._ch.basic_consume(self.spec.source, self._on_message, auto_ack=False)

    def _on_message(self, _ch: Any, method: Any, props: Any, body: bytes) -> None:
        stamp = props.timestamp
        self._buffer.append(
            Delivery(
                message_id=props.message_id or content_id(body),
                body=body,
                headers=_headers(props),
                token=method.delivery_tag,
                published_at=float(stamp) if stamp else None,
            )
        )

    def fetch(self, max_count: int, timeout: float) -> list[Delivery]:
        """Return buffered deliveries, waiting up to *timeout* for the first ones."""
        assert self._conn is not None, "connect() first"
        if not self._buffer:
            self._conn.process_data_events(time_limit=timeout)
        else:
            self._conn.process_data_events(time_limit=0)
        out: list[Delivery] = []
        while self._buffer and len(out) < max_count:
            out.append(self._buffer.popleft())
        return out

    def ack(self, tokens: list[Any]) -> None:
        """Ack up to the batch's last delivery tag (batches are contiguous, in order)."""
        if tokens:
            self._ch.basic_ack(delivery_tag=max(tokens), multiple=True)

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Publish the body to the ``dead_letter`` queue (confirmed), with the reason."""
        assert self.spec.dead_letter is not None
        headers = {
            **delivery.headers,
            "x-stargraph-reason": reason,
            "x-original-id": delivery.message_id,
        }
        props = pika.BasicProperties(delivery_mode=2, headers=headers)
        self._ch.basic_publish("", self.spec.dead_letter, delivery.body, props)

    def pending(self) -> dict[str, int]:
        """Messages ready in the queue (not yet delivered to any consumer)."""
        frame = self._ch.queue_declare(self.spec.source, durable=True, passive=True)
        return {"lag": int(frame.method.message_count)}

    def close(self) -> None:
        """Close the connection; the broker requeues whatever was not acked."""
        conn, self._conn, self._channel = self._conn, None, None
        self._buffer.clear()
        if conn is not None and conn.is_open:
            conn.close()


def make_client(spec: QueueSpec) -> AmqpClient:
    """The factory the trigger calls (one client per consumer run)."""
    return AmqpClient(spec)
