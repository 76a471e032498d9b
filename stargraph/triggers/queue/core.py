"""What every broker adapter shares: the delivery value, the client Protocol, keys, decoding.

Written once for all kinds; an adapter only turns its broker's messages into :class:`Delivery`
values and acknowledges tokens (see ``consumer.py`` for the ack-after-commit loop).
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Mapping
from typing import Any, Protocol

import attrs
from prometheus_client import CollectorRegistry, Counter

from stargraph.triggers.queue.spec import QueueSpec

__all__ = [
    "OUTCOMES",
    "BrokerClient",
    "Delivery",
    "Poison",
    "content_id",
    "decode",
    "idempotency_key",
    "messages_counter",
]

OUTCOMES = ("enqueued", "deduplicated", "dead_lettered", "rejected")
_MAX_ID = 200  # longer broker ids are hashed, so the key stays within MAX_KEY_LENGTH


@attrs.frozen(kw_only=True)
class Delivery:
    """One message as a broker delivered it.

    ``message_id`` is the identity the idempotency key derives from (chosen by the adapter, see
    docs/queues.md); ``token`` is what :meth:`BrokerClient.ack` needs; ``published_at`` is the
    broker's timestamp in epoch seconds where it has one.
    """

    message_id: str
    body: bytes
    headers: Mapping[str, str] = attrs.field(factory=dict)
    token: Any = None
    published_at: float | None = None


@attrs.frozen
class Poison:
    """Why a message cannot become a run: ``too_big``, ``not_json``, ``not_object``..."""

    reason: str


class BrokerClient(Protocol):
    """A broker connection, driven from worker threads one call at a time.

    Each call may block for at most about its ``timeout`` (``fetch``) or a few seconds (the
    rest); a lost connection raises, which ends the trigger's task group and lets the host's
    restart-with-backoff reconnect.
    """

    def connect(self) -> None: ...

    def fetch(self, max_count: int, timeout: float) -> list[Delivery]: ...

    def ack(self, tokens: list[Any]) -> None: ...

    def dead_letter(self, delivery: Delivery, reason: str) -> None: ...

    def pending(self) -> dict[str, int]: ...

    def close(self) -> None: ...


def content_id(*parts: bytes) -> str:
    """The fallback identity: ``sha256:`` + the hash of *parts* (NUL-separated)."""
    return "sha256:" + hashlib.sha256(b"\0".join(parts)).hexdigest()


def idempotency_key(trigger_id: str, message_id: str) -> str:
    """``<trigger_id>:<message_id>``; a message id over 200 characters is hashed first."""
    if len(message_id) > _MAX_ID:
        message_id = content_id(message_id.encode())
    return f"{trigger_id}:{message_id}"


def decode(delivery: Delivery, spec: QueueSpec) -> dict[str, Any] | Poison:
    """Return the run's params for *delivery*, or :class:`Poison` saying why there are none."""
    if len(delivery.body) > spec.max_body_bytes:
        return Poison("too_big")
    try:
        value = json.loads(delivery.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return Poison("not_json")
    if spec.params == "envelope":
        return {
            "body": value,
            "id": delivery.message_id,
            "headers": dict(delivery.headers),
            "source": spec.source,
        }
    if not isinstance(value, dict):
        return Poison("not_object")
    return value


_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()


def messages_counter(registry: CollectorRegistry) -> Counter:
    """``stargraph_queue_messages_total{trigger_id,outcome}`` in *registry* (made once)."""
    counter = _COUNTERS.get(registry)
    if counter is None:
        counter = Counter(
            "stargraph_queue_messages",
            "Queue messages by outcome (enqueued, deduplicated, dead_lettered, rejected)",
            ["trigger_id", "outcome"],
            registry=registry,
        )
        _COUNTERS[registry] = counter
    return counter
