"""MQTT 5 through paho-mqtt (Eclipse's client), its network loop in paho's own thread.

Why paho-mqtt: the maintained reference client with MQTT 5 user properties and manual acks;
the anyio MQTT clients are early work. The consumer drains paho's thread-safe queue with a
short timeout, so a stop is prompt.

Session: client id ``stargraph-<group>-<trigger_id>-<hash of source>`` (plus
``-$STARGRAPH_NODE_ID`` when set, subscribing through ``$share/<group>/`` so nodes compete),
``clean_start=False`` and a one-day session expiry, subscription QoS 1 with manual acks: a
PUBACK is sent only after the run committed, and the broker redelivers every unacked message
when the session reconnects.
``ReceiveMaximum = max_in_flight`` bounds what the broker sends unacked.

Identity: the MQTT 5 user property ``message_id`` when the publisher set one, else the SHA-256
of topic and payload. Consequence: without ``message_id``, two identical payloads on the same
topic are one run (within the store's retention); publishers that can repeat a payload must
set the property.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from stargraph.triggers.queue.core import Delivery, content_id
from stargraph.triggers.queue.spec import QueueSpec

__all__ = ["MqttClient", "make_client"]

SESSION_EXPIRY = 86_400
_CONNECT_WAIT = 10.0


def client_id(spec: QueueSpec) -> str:
    """The stable client id of *spec*'s persistent session.

    It includes a hash of ``source``: a session keeps its subscriptions, so a changed topic
    filter must not inherit the old one's subscription and queued messages.
    """
    node = os.environ.get("STARGRAPH_NODE_ID")
    topic = hashlib.sha256(spec.source.encode()).hexdigest()[:8]
    raw = f"stargraph-{spec.group}-{spec.trigger_id}-{topic}" + (f"-{node}" if node else "")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", raw)[:200]


class MqttClient:
    """One persistent MQTT 5 session subscribed to ``spec.source`` at QoS 1."""

    def __init__(self, spec: QueueSpec) -> None:
        self.spec = spec
        self._queue: queue.Queue[Delivery] = queue.Queue()
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._lost: str | None = None

    def connect(self) -> None:
        """Open the session (``clean_start=False``), start paho's network thread, return once
        the broker confirmed the subscription."""
        url = urlsplit(self.spec.url)
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id(self.spec),
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if url.username:
            c.username_pw_set(url.username, url.password)
        if url.scheme == "mqtts":
            c.tls_set()
        c.on_connect, c.on_message, c.on_disconnect = self._on_connect, self._on_message, self._gone
        c.on_subscribe = self._on_subscribe
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY
        props.ReceiveMaximum = self.spec.max_in_flight
        c.connect(
            url.hostname or "127.0.0.1", url.port or 1883, 30, clean_start=False, properties=props
        )
        self._client = c
        c.loop_start()
        if not self._connected.wait(_CONNECT_WAIT):
            raise ConnectionError(f"MQTT broker did not accept the session: {self._lost}")

    def _topic(self) -> str:
        if os.environ.get("STARGRAPH_NODE_ID"):
            return f"$share/{self.spec.group}/{self.spec.source}"
        return self.spec.source

    def _on_connect(self, c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self._lost = str(reason)
            return
        c.subscribe(self._topic(), qos=1)

    def _on_subscribe(self, _c: Any, _u: Any, _mid: Any, reasons: Any, _p: Any) -> None:
        """Connected means subscribed: the broker drops what is published to a topic before its
        SUBACK (a new session), so ``connect`` returns only after it."""
        refused = [r for r in reasons if r.is_failure]
        if refused:
            self._lost = f"subscription to {self._topic()!r} refused: {refused[0]}"
            return
        self._connected.set()

    def _gone(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._lost = str(reason)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        headers = {str(k): str(v) for k, v in getattr(props, "UserProperty", None) or []}
        topic, payload = msg.topic, bytes(msg.payload)
        self._queue.put(
            Delivery(
                message_id=headers.get("message_id") or content_id(topic.encode(), payload),
                body=payload,
                headers={**headers, "topic": topic},
                token=msg.mid,
            )
        )

    def fetch(self, max_count: int, timeout: float) -> list[Delivery]:
        """Wait up to *timeout* for a message, then take what else is queued."""
        if self._lost is not None:
            raise ConnectionError(f"MQTT connection lost: {self._lost}")
        out: list[Delivery] = []
        try:
            out.append(self._queue.get(timeout=timeout))
            while len(out) < max_count:
                out.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return out

    def ack(self, tokens: list[Any]) -> None:
        """Send the PUBACK of every message of the batch."""
        assert self._client is not None
        for mid in tokens:
            self._client.ack(mid, 1)

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Publish the payload to the ``dead_letter`` topic at QoS 1, with the reason."""
        assert self._client is not None and self.spec.dead_letter is not None
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.UserProperty = [("reason", reason), ("original_id", delivery.message_id)]
        info = self._client.publish(self.spec.dead_letter, delivery.body, 1, properties=props)
        info.wait_for_publish(10)

    def pending(self) -> dict[str, int]:
        """Messages received and not yet handed to the consumer (MQTT exposes no backlog)."""
        return {"buffered": self._queue.qsize()}

    def close(self) -> None:
        """Disconnect (the session and its unacked messages stay on the broker)."""
        c, self._client = self._client, None
        if c is not None:
            c.disconnect()
            c.loop_stop()
        time.sleep(0)


def make_client(spec: QueueSpec) -> MqttClient:
    """The factory the trigger calls (one client per consumer run)."""
    return MqttClient(spec)
