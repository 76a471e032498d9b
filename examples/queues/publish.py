"""Publish one order to the examples' broker: ``python publish.py redis|amqp|mqtt|nats [N]``.

Uses the same client libraries as the triggers (``pip install 'stargraph[queues]'``); each
message carries ``message_id`` ``order-<n>``, so publishing the same N twice makes one run.
"""

from __future__ import annotations

import json
import sys


def main(kind: str, n: int) -> None:
    body = json.dumps({"order_id": n, "customer": "ada"}).encode()
    mid = f"order-{n}"
    if kind == "redis":
        import redis

        redis.Redis().xadd("orders", {"body": body, "message_id": mid})
    elif kind == "amqp":
        import pika

        conn = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F"))
        ch = conn.channel()
        ch.queue_declare("orders", durable=True)
        ch.basic_publish("", "orders", body, pika.BasicProperties(message_id=mid, delivery_mode=2))
        conn.close()
    elif kind == "mqtt":
        import paho.mqtt.publish as publish
        from paho.mqtt.client import MQTTv5
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("message_id", mid)]
        publish.single("orders/eu", body, qos=1, protocol=MQTTv5, properties=props)
    elif kind == "nats":
        import asyncio

        import nats

        async def send() -> None:
            nc = await nats.connect("nats://127.0.0.1:4222")
            await nc.jetstream().publish("orders.eu", body, headers={"Nats-Msg-Id": mid})
            await nc.close()

        asyncio.run(send())
    else:
        raise SystemExit(f"unknown kind {kind!r}: use redis, amqp, mqtt or nats")
    print(f"published {mid} to {kind}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1)
