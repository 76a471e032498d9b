"""Redis Streams through redis-py's sync client, driven from worker threads.

Why sync redis-py: it is Redis's official client; its asyncio API does not run on trio, and no
solid anyio-native Redis client exists. Each call blocks at most one short ``XREADGROUP BLOCK``.

Identity: the entry's ``message_id`` field when the producer set one (so a producer's retried
``XADD`` is one run), else the stream entry id. Ack point: ``XACK`` after the runs committed.
A restarted consumer first re-reads its own pending entries (``XREADGROUP ... 0``) and, every
``redeliver_seconds / 2``, takes over entries other consumers left idle for
``redeliver_seconds`` (``XAUTOCLAIM``): those of a crashed node.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import redis

from stargraph.triggers.queue.core import Delivery
from stargraph.triggers.queue.spec import QueueSpec

__all__ = ["RedisStreamClient", "consumer_name", "make_client"]

BODY_FIELD = b"body"
ID_FIELD = "message_id"


def consumer_name() -> str:
    """This process's consumer name in the group (``STARGRAPH_NODE_ID`` or host-pid)."""
    return os.environ.get("STARGRAPH_NODE_ID") or f"{socket.gethostname()}-{os.getpid()}"


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _delivery(entry_id: bytes, fields: dict[bytes, bytes] | None) -> Delivery:
    fields = fields or {}  # an entry deleted while pending comes back without fields
    headers = {_text(k): _text(v) for k, v in fields.items() if k != BODY_FIELD}
    eid = _text(entry_id)
    return Delivery(
        message_id=headers.get(ID_FIELD) or eid,
        body=fields.get(BODY_FIELD, b""),
        headers=headers,
        token=entry_id,
        published_at=int(eid.split("-", 1)[0]) / 1000,
    )


class RedisStreamClient:
    """One consumer of ``spec.source`` in consumer group ``spec.group``."""

    def __init__(self, spec: QueueSpec) -> None:
        self.spec = spec
        self.consumer = consumer_name()
        self._redis: redis.Redis | None = None
        self._backlog = True
        self._claimed_at = 0.0

    @property
    def _r(self) -> redis.Redis:
        assert self._redis is not None, "connect() first"
        return self._redis

    def connect(self) -> None:
        """Connect and create the group (and stream) when missing."""
        self._redis = redis.Redis.from_url(
            self.spec.url, socket_connect_timeout=5, socket_timeout=10, decode_responses=False
        )
        try:
            self._r.xgroup_create(self.spec.source, self.spec.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._backlog = True

    def fetch(self, max_count: int, timeout: float) -> list[Delivery]:
        """Own pending entries first, then idle ones of other consumers, then new ones."""
        if self._backlog:
            got = self._read("0", max_count, None)
            if got:
                return got
            self._backlog = False
        if time.monotonic() - self._claimed_at >= self.spec.redeliver_seconds / 2:
            self._claimed_at = time.monotonic()
            claimed = self._claim(max_count)
            if claimed:
                return claimed
        return self._read(">", max_count, max(1, int(timeout * 1000)))

    def _read(self, start: str, count: int, block: int | None) -> list[Delivery]:
        reply: Any = self._r.xreadgroup(
            self.spec.group, self.consumer, {self.spec.source: start}, count=count, block=block
        )
        return [
            _delivery(eid, fields) for _stream, entries in reply or () for eid, fields in entries
        ]

    def _claim(self, count: int) -> list[Delivery]:
        reply: Any = self._r.xautoclaim(
            self.spec.source,
            self.spec.group,
            self.consumer,
            min_idle_time=int(self.spec.redeliver_seconds * 1000),
            start_id="0-0",
            count=count,
        )
        return [_delivery(eid, fields) for eid, fields in reply[1]]

    def ack(self, tokens: list[Any]) -> None:
        """``XACK`` every entry of the batch."""
        if tokens:
            self._r.xack(self.spec.source, self.spec.group, *tokens)

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """``XADD`` the body, original id and reason to the ``dead_letter`` stream."""
        assert self.spec.dead_letter is not None
        fields = {
            "body": delivery.body,
            "original_id": delivery.message_id,
            "source": self.spec.source,
            "reason": reason,
        }
        self._r.xadd(self.spec.dead_letter, fields)  # type: ignore[arg-type]

    def pending(self) -> dict[str, int]:
        """The group's ``pending`` (delivered, unacked) and ``lag`` (not yet delivered)."""
        for group in self._r.xinfo_groups(self.spec.source):
            if _text(group["name"]) == self.spec.group:
                lag = group.get("lag")
                out = {"pending": int(group["pending"])}
                return out if lag is None else {**out, "lag": int(lag)}
        return {}

    def close(self) -> None:
        """Close the connection pool."""
        if self._redis is not None:
            self._redis.close()
            self._redis = None


def make_client(spec: QueueSpec) -> RedisStreamClient:
    """The factory the trigger calls (one client per consumer run)."""
    return RedisStreamClient(spec)
