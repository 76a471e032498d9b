"""The queue trigger plugins: one class per broker kind, each its own entry point.

``RedisStreamTrigger`` (``redis-stream``), ``AmqpTrigger`` (``amqp``), ``MqttTrigger`` (``mqtt``)
and ``NatsJetStreamTrigger`` (``nats-jetstream``) each host the ``deps["queue_specs"]`` entries
of their kind; with none, a plugin is a silent no-op. The broker client is imported only when a
spec needs it, so a missing extra is a ``ConfigError`` naming ``pip install 'stargraph[...]'``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import anyio

from stargraph._log import log_event
from stargraph.errors import ConfigError, StargraphRuntimeError, StoreError, TriggerNotFound
from stargraph.triggers import Enqueuer, TriggerEvent, TriggerSource
from stargraph.triggers.control import TriggerInfo
from stargraph.triggers.queue.consumer import QueueConsumer
from stargraph.triggers.queue.core import BrokerClient, messages_counter
from stargraph.triggers.queue.spec import QueueSpec

if TYPE_CHECKING:
    from quart import Blueprint

__all__ = [
    "AmqpTrigger",
    "MqttTrigger",
    "NatsJetStreamTrigger",
    "QueueTrigger",
    "RedisStreamTrigger",
]

logger = logging.getLogger("stargraph.triggers.queue")
REFRESH_SECONDS = 5.0


def _as_spec(item: object) -> QueueSpec:
    if isinstance(item, QueueSpec):
        return item
    if isinstance(item, Mapping):
        return QueueSpec(**item)
    raise ConfigError(f"deps['queue_specs'] items must be QueueSpec, got {type(item).__name__}")


class QueueTrigger:
    """Hosts every ``[[queue]]`` entry of one ``kind``: one consumer each, pausable."""

    kind: ClassVar[str] = ""
    module: ClassVar[str] = ""  # the adapter module, imported only when a spec needs it
    extra: ClassVar[str] = ""

    def __init__(self) -> None:
        self._specs: dict[str, QueueSpec] = {}
        self._consumers: dict[str, QueueConsumer] = {}
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._running: dict[str, anyio.Lock] = {}
        self._paused: dict[str, tuple[bool, str | None]] = {}
        self._scheduler: Enqueuer | None = None
        self._store: Any = None
        self._clock: Any = None
        self._task_group: Any = None

    # -- Trigger ---------------------------------------------------------------------------------

    def init(self, deps: dict[str, Any]) -> None:
        """Pick this kind's specs, check their graphs, and import the broker client."""
        specs = [_as_spec(s) for s in deps.get("queue_specs") or ()]
        self._specs = {s.trigger_id: s for s in specs if s.kind == self.kind}
        if not self._specs:
            return
        scheduler: Enqueuer | None = deps.get("scheduler")
        if scheduler is None:
            raise StargraphRuntimeError(f"{type(self).__name__} requires deps['scheduler']")
        for spec in self._specs.values():
            if spec.graph_id not in scheduler.graphs:
                known = ", ".join(sorted(scheduler.graphs.ids())) or "none"
                raise ConfigError(
                    f"queue {spec.trigger_id!r}: graph_id {spec.graph_id!r} is not registered "
                    f"(registered graphs: {known})"
                )
        make_client = self._client_factory()
        counter = messages_counter(scheduler.metrics.registry)
        self._consumers = {
            tid: QueueConsumer(spec, make_client, self._emit, counter)
            for tid, spec in self._specs.items()
        }
        self._scheduler = scheduler
        self._store = deps.get("store") or scheduler.store
        self._clock = deps.get("clock") or scheduler.clock
        self._task_group = deps.get("task_group")

    def _client_factory(self) -> Callable[[QueueSpec], BrokerClient]:
        try:
            module = importlib.import_module(self.module)
        except ImportError as exc:
            tid = next(iter(self._specs))
            raise ConfigError(
                f"queue {tid!r}: kind {self.kind!r} needs a client library that is not "
                f"installed ({exc.name}); pip install 'stargraph[{self.extra}]'"
            ) from None
        factory: Callable[[QueueSpec], BrokerClient] = module.make_client
        return factory

    def _emit(self, spec: QueueSpec, params: dict[str, Any], key: str) -> Any:
        event = TriggerEvent(
            trigger_id=spec.trigger_id,
            scheduled_fire=datetime.now(UTC),
            idempotency_key=key,
            payload=params,
        )
        assert self._scheduler is not None
        return self._scheduler.emit(event, graph_id=spec.graph_id, source=TriggerSource.queue)

    async def start(self) -> None:
        """Load the persisted pause flags and start a consumer for every unpaused entry."""
        if not self._specs or self._task_group is None:
            return
        self._running = {tid: anyio.Lock() for tid in self._specs}
        await self._refresh()  # starts the consumers of the entries that are not paused
        self._task_group.start_soon(self._refresh_loop)

    def stop(self) -> None:
        """Nothing to release: cancelling the task group closed every connection."""
        self._scopes.clear()

    def routes(self) -> list[Blueprint]:
        """Queue triggers mount no HTTP routes."""
        return []

    def _start_consumer(self, tid: str) -> None:
        if tid in self._scopes or self._task_group is None:
            return
        scope = self._scopes[tid] = anyio.CancelScope()
        self._task_group.start_soon(self._consume, tid, scope)

    async def _consume(self, tid: str, scope: anyio.CancelScope) -> None:
        try:
            with scope:
                async with self._running[tid]:  # a quick resume waits for the paused run's close
                    await self._consumers[tid].run()
        finally:
            if self._scopes.get(tid) is scope:
                del self._scopes[tid]

    def _is_paused(self, tid: str) -> bool:
        return self._paused.get(tid, (False, None))[0]

    async def _refresh(self) -> None:
        for state in await self._store.list_trigger_states():
            if state.trigger_id in self._specs:
                self._paused[state.trigger_id] = (state.paused, state.note)
        for tid in self._specs:  # another node may have paused or resumed it
            self._apply(tid)

    def _apply(self, tid: str) -> None:
        if self._is_paused(tid) and tid in self._scopes:
            self._scopes.pop(tid).cancel()
        elif not self._is_paused(tid):
            self._start_consumer(tid)

    async def _refresh_loop(self) -> None:
        while True:
            await anyio.sleep(REFRESH_SECONDS)
            try:
                await self._refresh()
            except StoreError as exc:
                log_event(logger, "queue.refresh_failed", logging.WARNING, error=type(exc).__name__)

    # -- ControllableTrigger ---------------------------------------------------------------------

    def trigger_ids(self) -> list[str]:
        """Return the trigger id of every entry of this kind."""
        return list(self._specs)

    def _info(self, tid: str) -> TriggerInfo:
        spec = self._specs[tid]
        consumer = self._consumers.get(tid)
        paused, note = self._paused.get(tid, (False, None))
        details: dict[str, Any] = {
            "source": spec.source,
            "group": spec.group,
            "connected": bool(consumer and consumer.connected),
            "in_flight": consumer.in_flight if consumer else 0,
            **(consumer.stats if consumer else {}),
        }
        return TriggerInfo(
            trigger_id=tid,
            kind=spec.kind,
            graph_id=spec.graph_id,
            paused=paused,
            note=note,
            last_fire=consumer.last_message if consumer else None,
            details=details,
        )

    def _require(self, tid: str) -> None:
        if tid not in self._specs:
            raise TriggerNotFound(tid)

    async def describe(self) -> list[TriggerInfo]:
        """Each entry: kind, source, connected, pending/lag where known, last message time."""
        return [self._info(tid) for tid in self._specs]

    async def pause(self, trigger_id: str, note: str | None = None) -> TriggerInfo:
        """Stop consuming *trigger_id* (its connection closes; unacked messages go back)."""
        return await self._set_paused(trigger_id, True, note)

    async def resume(self, trigger_id: str) -> TriggerInfo:
        """Start consuming *trigger_id* again."""
        return await self._set_paused(trigger_id, False, None)

    async def _set_paused(self, tid: str, paused: bool, note: str | None) -> TriggerInfo:
        self._require(tid)
        state = await self._store.set_trigger_paused(
            tid, paused=paused, now=self._clock.now(), note=note
        )
        self._paused[tid] = (state.paused, state.note)
        self._apply(tid)
        log_event(logger, "trigger.paused" if paused else "trigger.resumed", trigger_id=tid)
        return self._info(tid)

    async def fire(self, trigger_id: str) -> Any:
        """Always raises: a queue trigger runs only for a message on its source."""
        self._require(trigger_id)
        raise StargraphRuntimeError(
            f"queue {trigger_id!r} cannot fire without a message; publish one to "
            f"{self._specs[trigger_id].source!r}"
        )


class RedisStreamTrigger(QueueTrigger):
    """``kind = "redis-stream"``: a Redis Streams consumer group (redis-py)."""

    kind = "redis-stream"
    module = "stargraph.triggers.queue.redis_stream"
    extra = "redis"


class AmqpTrigger(QueueTrigger):
    """``kind = "amqp"``: a RabbitMQ / AMQP 0-9-1 queue (pika)."""

    kind = "amqp"
    module = "stargraph.triggers.queue.amqp"
    extra = "amqp"


class MqttTrigger(QueueTrigger):
    """``kind = "mqtt"``: an MQTT 5 topic filter, QoS 1, persistent session (paho-mqtt)."""

    kind = "mqtt"
    module = "stargraph.triggers.queue.mqtt"
    extra = "mqtt"


class NatsJetStreamTrigger(QueueTrigger):
    """``kind = "nats-jetstream"``: a durable JetStream pull consumer (nats-py)."""

    kind = "nats-jetstream"
    module = "stargraph.triggers.queue.nats"
    extra = "nats"
