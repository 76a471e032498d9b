"""Test-side broker helpers: publish messages, look at what is left unacked, clean up.

One class per kind, written with the same sync clients the triggers use. ``reachable(kind)``
returns None or the reason the local broker cannot be had (the tests skip with it).
"""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

URLS = {
    "redis-stream": "redis://127.0.0.1:6379/0",
    "amqp": "amqp://guest:guest@127.0.0.1:5672/%2F",
    "mqtt": "mqtt://127.0.0.1:1883",
    "nats-jetstream": "nats://127.0.0.1:4222",
}
PORTS = {"redis-stream": 6379, "amqp": 5672, "mqtt": 1883, "nats-jetstream": 4222}


def reachable(kind: str) -> str | None:
    """None when the local broker of *kind* accepts a TCP connection, else why not."""
    try:
        with socket.create_connection(("127.0.0.1", PORTS[kind]), timeout=2):
            return None
    except OSError as exc:
        return (
            f"{kind} broker on 127.0.0.1:{PORTS[kind]} is unreachable ({exc}); start it "
            "(.ci/run's ensure_brokers shows how)"
        )


class RedisBroker:
    kind = "redis-stream"

    def __init__(self) -> None:
        import redis

        self.r = redis.Redis.from_url(URLS[self.kind])
        self.source = f"sgtest-{uuid.uuid4().hex[:10]}"
        self.dead = f"{self.source}.dead"

    def publish(self, body: bytes, message_id: str | None = None) -> None:
        fields: dict[Any, Any] = {"body": body}
        if message_id is not None:
            fields["message_id"] = message_id
        self.r.xadd(self.source, fields)

    def publish_many(self, bodies: list[bytes]) -> None:
        pipe = self.r.pipeline(transaction=False)
        for body in bodies:
            pipe.xadd(self.source, {"body": body})
        pipe.execute()

    def unacked(self, group: str = "stargraph") -> int:
        """Entries delivered and not acked plus entries not yet delivered."""
        for g in self.r.xinfo_groups(self.source):
            if g["name"].decode() == group:
                return int(g["pending"]) + int(g.get("lag") or 0)
        return -1

    def dead_letters(self) -> list[dict[str, str]]:
        entries = self.r.xrange(self.dead)
        return [{k.decode(): v.decode() for k, v in fields.items()} for _id, fields in entries]

    def close(self) -> None:
        self.r.delete(self.source, self.dead)
        self.r.close()


BROKERS: dict[str, Any] = {"redis-stream": RedisBroker}


def body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()
