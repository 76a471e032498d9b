"""Bundled message-queue triggers: Redis Streams, RabbitMQ (AMQP), MQTT, NATS JetStream.

A message is acknowledged to its broker only after its run is durable, and a message delivered
twice makes one run (the idempotency key derives from the broker's message identity). See
docs/queues.md.
"""

from __future__ import annotations

from stargraph.triggers.queue.core import OUTCOMES, BrokerClient, Delivery
from stargraph.triggers.queue.spec import KINDS, QueueSpec
from stargraph.triggers.queue.trigger import (
    AmqpTrigger,
    MqttTrigger,
    NatsJetStreamTrigger,
    QueueTrigger,
    RedisStreamTrigger,
)

__all__ = [
    "KINDS",
    "OUTCOMES",
    "AmqpTrigger",
    "BrokerClient",
    "Delivery",
    "MqttTrigger",
    "NatsJetStreamTrigger",
    "QueueSpec",
    "QueueTrigger",
    "RedisStreamTrigger",
]
