"""The MQTT client reports connected only once the broker confirmed its subscription (a new
session's broker drops what is published before the SUBACK), and a refused subscription is an
error that names the topic. Real Mosquitto on 127.0.0.1:1883."""

from __future__ import annotations

import uuid

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from stargraph.triggers.queue import QueueSpec
from stargraph.triggers.queue.mqtt import MqttClient

from .brokers import BROKERS, reachable


def _spec(source: str) -> QueueSpec:
    return QueueSpec(
        trigger_id=f"queue:{source}", kind="mqtt", url="mqtt://127.0.0.1:1883", source=source,
        graph_id="g",
    )  # fmt: skip


def test_connect_returns_subscribed_so_the_next_publish_arrives() -> None:
    if reason := reachable("mqtt"):
        pytest.skip(reason)
    publisher = BROKERS["mqtt"]()
    client = MqttClient(_spec(publisher.source))
    try:
        client.connect()
        publisher.publish(b'{"n": 1}', message_id="first")
        (delivery,) = client.fetch(10, timeout=10)
        assert (delivery.message_id, delivery.body) == ("first", b'{"n": 1}')
        client.ack([delivery.token])
    finally:
        client.close()
        publisher.close()


def test_a_refused_subscription_is_not_connected_and_names_the_topic() -> None:
    client = MqttClient(_spec(f"sgtest/{uuid.uuid4().hex[:8]}"))
    refused = ReasonCode(PacketTypes.SUBACK, "Not authorized")
    client._on_subscribe(None, None, 1, [refused], None)
    assert not client._connected.is_set()
    assert client._lost is not None and "sgtest/" in client._lost
    assert "Not authorized" in client._lost
    client._on_subscribe(None, None, 2, [ReasonCode(PacketTypes.SUBACK, "Granted QoS 1")], None)
    assert client._connected.is_set()
