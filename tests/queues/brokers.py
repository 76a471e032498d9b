"""Test-side broker helpers: publish messages, look at what is left unacked, clean up.

One class per kind, written with the same sync clients the triggers use. ``reachable(kind)``
returns None or the reason the local broker cannot be had (the tests skip with it).

``Broker()`` makes a fresh source and ``close()`` deletes it; ``broker.publisher()`` is a second
client on the same source (for another thread) whose ``close()`` only closes its connection.
Every ``close()`` closes its connection even when deleting the source fails: a client left to
the garbage collector warns (``unclosed socket``) in whatever test runs at that moment.
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

    def __init__(self, source: str | None = None) -> None:
        import redis

        self.owner = source is None
        self.source = source or f"sgtest-{uuid.uuid4().hex[:10]}"
        self.dead = f"{self.source}.dead"
        self.r = redis.Redis.from_url(URLS[self.kind])

    def publisher(self) -> RedisBroker:
        return RedisBroker(self.source)

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
        try:
            if self.owner:
                self.r.delete(self.source, self.dead)
        finally:
            self.r.close()


BROKERS: dict[str, Any] = {"redis-stream": RedisBroker}


def body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


class AmqpBroker:
    kind = "amqp"

    def __init__(self, source: str | None = None) -> None:
        import pika

        self.pika = pika
        self.owner = source is None
        self.source = source or f"sgtest-{uuid.uuid4().hex[:10]}"
        self.dead = f"{self.source}.dead"
        self.conn = pika.BlockingConnection(pika.URLParameters(URLS[self.kind]))
        try:
            self.ch = self.conn.channel()
            if self.owner:
                self.ch.queue_declare(self.source, durable=True)
                self.ch.queue_declare(self.dead, durable=True)
        except BaseException:
            self._close_connection()
            raise

    def publisher(self) -> AmqpBroker:
        return AmqpBroker(self.source)

    def publish(self, body: bytes, message_id: str | None = None) -> None:
        props = self.pika.BasicProperties(delivery_mode=2, message_id=message_id)
        self.ch.basic_publish("", self.source, body, props)

    def publish_many(self, bodies: list[bytes]) -> None:
        for b in bodies:
            self.publish(b)

    def unacked(self, group: str = "stargraph") -> int:
        """Messages ready in the queue. Unacked ones count too once the consumer's connection
        closed (the broker requeues them), so after the runtime left this is the whole count."""
        frame = self.ch.queue_declare(self.source, durable=True, passive=True)
        return int(frame.method.message_count)

    def dead_letters(self) -> list[dict[str, str]]:
        out = []
        while True:
            method, props, body = self.ch.basic_get(self.dead, auto_ack=True)
            if method is None:
                return out
            out.append({"reason": props.headers["x-stargraph-reason"], "body": body.decode()})

    def close(self) -> None:
        try:
            if self.owner:
                self.ch.queue_delete(self.source)
                self.ch.queue_delete(self.dead)
        finally:
            self._close_connection()

    def _close_connection(self) -> None:
        if self.conn.is_open:
            self.conn.close()


BROKERS["amqp"] = AmqpBroker


class MqttBroker:
    kind = "mqtt"

    def __init__(self, source: str | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.mqtt = mqtt
        self.owner = source is None
        self.source = source or f"sgtest/{uuid.uuid4().hex[:10]}"
        self.dead = f"{self.source}/dead"
        self.dead_seen: list[dict[str, str]] = []
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.c.on_message = self._dead
        self.c.connect("127.0.0.1", 1883)
        self.c.loop_start()
        if self.owner:
            self.c.subscribe(self.dead, qos=1)

    def publisher(self) -> MqttBroker:
        return MqttBroker(self.source)

    def _dead(self, _c: Any, _u: Any, msg: Any) -> None:
        props = dict(getattr(msg.properties, "UserProperty", None) or [])
        self.dead_seen.append({"reason": props.get("reason", ""), "body": msg.payload.decode()})

    def publish(self, body: bytes, message_id: str | None = None) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.PUBLISH)
        if message_id is not None:
            props.UserProperty = [("message_id", message_id)]
        self.c.publish(self.source, body, qos=1, properties=props).wait_for_publish(10)

    def publish_many(self, bodies: list[bytes]) -> None:
        infos = [self.c.publish(self.source, b, qos=1) for b in bodies]
        for info in infos:
            info.wait_for_publish(10)

    def unacked(self, group: str = "stargraph") -> int:
        """MQTT shows no backlog to a third party: the tests count runs instead (always 0)."""
        return 0

    def dead_letters(self) -> list[dict[str, str]]:
        import time

        time.sleep(0.3)
        return list(self.dead_seen)

    def close(self) -> None:
        self.c.disconnect()  # the network thread sends DISCONNECT and closes the socket
        self.c.loop_stop()


BROKERS["mqtt"] = MqttBroker


class NatsBroker:
    kind = "nats-jetstream"

    def __init__(self, source: str | None = None) -> None:
        import nats

        from stargraph.triggers.queue.nats import LoopThread, stream_name

        self.owner = source is None
        self.source = source or f"sgtest.{uuid.uuid4().hex[:10]}"
        self.dead = f"{self.source}.dead"
        self.stream = stream_name(self.source)
        self.loop = LoopThread("test-nats")
        self.nc: Any = None
        try:
            self.nc = self.loop.call(nats.connect(URLS[self.kind]))
            self.js = self.nc.jetstream()
            if self.owner:
                self.loop.call(
                    self.js.add_stream(name=self.stream, subjects=[self.source, self.dead])
                )
        except BaseException:
            self._close_connection()
            raise

    def publisher(self) -> NatsBroker:
        return NatsBroker(self.source)

    def publish(self, body: bytes, message_id: str | None = None) -> None:
        headers = {"Nats-Msg-Id": message_id} if message_id else None
        self.loop.call(self.js.publish(self.source, body, headers=headers))

    def publish_many(self, bodies: list[bytes]) -> None:
        async def run() -> None:
            for b in bodies:
                await self.js.publish(self.source, b)

        self.loop.call(run(), 60)

    def unacked(self, group: str = "stargraph") -> int:
        try:
            info = self.loop.call(self.js.consumer_info(self.stream, group))
        except Exception:
            return -1
        return int(info.num_ack_pending or 0) + int(info.num_pending or 0)

    def dead_letters(self) -> list[dict[str, str]]:
        async def run() -> list[dict[str, str]]:
            out = []
            sub = await self.js.pull_subscribe(self.dead, stream=self.stream)
            try:
                msgs = await sub.fetch(10, timeout=1)
                out.extend(
                    {"reason": m.headers["Stargraph-Reason"], "body": m.data.decode()} for m in msgs
                )
            except Exception:
                pass
            return out

        return self.loop.call(run())

    def close(self) -> None:
        try:
            if self.owner:
                self.loop.call(self.js.delete_stream(self.stream))
        finally:
            self._close_connection()

    def _close_connection(self) -> None:
        try:
            if self.nc is not None and not self.nc.is_closed:
                self.loop.call(self.nc.close())
        finally:
            self.loop.stop()


BROKERS["nats-jetstream"] = NatsBroker
