"""The trigger contract (a leaf module): :class:`Trigger`, :class:`TriggerEvent`,
:class:`TriggerSource`, the :class:`Enqueuer` Protocol of ``deps["scheduler"]``, and the one
place the rules for idempotency keys and fire times live (:func:`check_idempotency_key`,
:func:`check_fire_time`), used by :class:`TriggerEvent` and ``Scheduler.enqueue`` alike.

It imports nothing of Stargraph beyond errors and JSON helpers at run time, so the plugin
machinery and the bundled triggers can import it without importing each other.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from stargraph._json import (
    JSONObject,
    ensure_json_object,
    is_flat_json_object,
    storable_text,
    unstorable_reason,
)
from stargraph.errors import InvalidTriggerEvent, StargraphError

if TYPE_CHECKING:
    from stargraph.clock import Clock
    from stargraph.metrics import Metrics
    from stargraph.scheduler.graphs import GraphRegistry
    from stargraph.scheduler.receipt import BatchReceipt, Enqueued, EnqueueReceipt
    from stargraph.store.base import CursorAdvance, Nonce, RunStore

__all__ = [
    "MAX_KEY_LENGTH",
    "Enqueuer",
    "Trigger",
    "TriggerEvent",
    "TriggerSource",
    "check_fire_time",
    "check_idempotency_key",
    "check_trigger_id",
]

MAX_KEY_LENGTH = 512  # characters; a longer key is refused (derive a shorter one, e.g. a hash)


class TriggerSource(enum.StrEnum):
    """Who asked for a run (DESIGN §2); the store keeps the string value."""

    manual = "manual"  # the REST API, the CLI, the bundled manual trigger
    cron = "cron"
    interval = "interval"
    webhook = "webhook"
    queue = "queue"
    fs = "fs"
    plugin = "plugin"  # any third-party trigger; what deps["scheduler"].enqueue records

    @property
    def planned(self) -> bool:
        """True for time-based sources, whose runs record the planned fire instant."""
        return self in _PLANNED


_PLANNED = frozenset({TriggerSource.cron, TriggerSource.interval})


@runtime_checkable
class Trigger(Protocol):
    """What a trigger plugin looks like. Methods may be plain or ``async def``.

    ``init(deps)`` receives the runtime's dependencies (at least ``"scheduler"``, every key of the
    config's ``[deps]`` table, and a per-plugin ``"task_group"``); ``start()`` begins emitting runs;
    ``stop()`` cleans up after the host cancelled the trigger's task group; ``routes()`` returns
    Quart ``Blueprint`` objects to mount (or an empty list).
    """

    def init(self, deps: dict[str, Any]) -> Any: ...

    def start(self) -> Any: ...

    def stop(self) -> Any: ...

    def routes(self) -> Any: ...


def check_idempotency_key(
    value: object,
    *,
    what: str = "idempotency_key",
    error: type[StargraphError] = InvalidTriggerEvent,
) -> str:
    """Return *value* if it is a usable idempotency key; raise *error* naming *what* if not.

    A key is a non-empty, non-blank string of at most :data:`MAX_KEY_LENGTH` characters that
    every store can hold (no NUL, no unpaired surrogate).
    """
    if isinstance(value, str) and len(value) <= MAX_KEY_LENGTH and value.strip():
        if storable_text(value):
            return value
        raise error(f"{what} {value!r:.80} has {unstorable_reason(value)}")
    raise error(
        f"{what} must be a non-empty string of at most {MAX_KEY_LENGTH} characters, got "
        f"{value!r:.80}; derive it from the signal (a message id, a file path plus fingerprint, "
        "a planned fire time)"
    )


def check_fire_time(
    value: object,
    *,
    what: str = "scheduled_fire",
    error: type[StargraphError] = InvalidTriggerEvent,
) -> datetime:
    """Return *value* if it is a timezone-aware datetime; raise *error* naming *what* if not."""
    if type(value) is datetime and value.tzinfo is UTC:  # the common case, checked cheaply
        return value
    if not isinstance(value, datetime):
        raise error(f"{what} must be a timezone-aware datetime, got {type(value).__name__}")
    if value.utcoffset() is None:
        raise error(
            f"{what} must be timezone-aware, got naive {value.isoformat()}; use datetime.now(UTC)"
        )
    return value


def check_trigger_id(
    value: object,
    *,
    what: str = "trigger_id",
    error: type[StargraphError] = InvalidTriggerEvent,
) -> str:
    """Return *value* if it is a non-blank string every store can hold; raise *error* if not."""
    if not isinstance(value, str) or not value.strip():
        raise error(f"{what} must be a non-empty string, got {value!r:.80}")
    if not storable_text(value):
        raise error(f"{what} {value!r:.80} has {unstorable_reason(value)}")
    return value


def _check_trigger_id(_inst: object, _attr: object, value: Any) -> None:
    check_trigger_id(value, what="TriggerEvent.trigger_id")


def _check_key(_inst: object, _attr: object, value: Any) -> None:
    check_idempotency_key(value, what="TriggerEvent.idempotency_key")


def _check_fire(_inst: object, _attr: object, value: Any) -> None:
    check_fire_time(value, what="TriggerEvent.scheduled_fire")


def _to_payload(value: object) -> JSONObject:
    if is_flat_json_object(value):  # the common case: a shallow copy is already a snapshot
        return dict(value)
    if not isinstance(value, Mapping):
        raise InvalidTriggerEvent(
            f"TriggerEvent.payload must be a JSON object (dict), got {type(value).__name__}"
        )
    try:
        return ensure_json_object(value, "TriggerEvent.payload")
    except ValueError as exc:
        raise InvalidTriggerEvent(str(exc)) from None


@attrs.frozen(kw_only=True)
class TriggerEvent:
    """One signal a trigger turned into a run request (``Enqueuer.emit`` enqueues it).

    ``payload`` becomes the run's params; ``scheduled_fire`` is recorded on the run for
    time-based sources (:attr:`TriggerSource.planned`).
    """

    trigger_id: str = attrs.field(validator=_check_trigger_id)
    scheduled_fire: datetime = attrs.field(validator=_check_fire)
    idempotency_key: str = attrs.field(validator=_check_key)
    payload: JSONObject = attrs.field(factory=dict, converter=_to_payload)


class Enqueuer(Protocol):
    """What ``deps["scheduler"]`` offers a trigger (the :class:`~stargraph.scheduler.Scheduler`,
    or the per-plugin view of it that the trigger host hands each plugin).

    ``enqueue`` is the seed contract: synchronous, non-blocking, returns an awaitable receipt;
    its optional ``not_before`` (timezone-aware) delays the run. ``emit``'s ``overlap`` is a
    time trigger's overlap policy (``docs/time.md``). ``emit_many`` queues several events at
    once, all or none, with one receipt for all of them (a burst's fast path).
    Its ``trigger_source`` defaults to ``manual`` on the scheduler itself and to ``plugin`` (with
    ``trigger_id`` defaulting to the plugin's name) in a hosted plugin's ``deps["scheduler"]``.
    """

    @property
    def graphs(self) -> GraphRegistry: ...

    @property
    def store(self) -> RunStore: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def metrics(self) -> Metrics: ...

    def enqueue(
        self,
        graph_id: str,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        *,
        trigger_id: str | None = None,
        trigger_source: TriggerSource | str = ...,
        scheduled_fire: datetime | None = None,
        cursor: CursorAdvance | None = None,
        not_before: datetime | None = None,
    ) -> EnqueueReceipt: ...

    async def submit(
        self,
        graph_id: str,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        *,
        trigger_id: str | None = None,
        trigger_source: TriggerSource | str = ...,
        scheduled_fire: datetime | None = None,
        cursor: CursorAdvance | None = None,
        not_before: datetime | None = None,
    ) -> Enqueued: ...

    def emit(
        self,
        event: TriggerEvent,
        *,
        graph_id: str,
        source: TriggerSource = TriggerSource.plugin,
        cursor: CursorAdvance | None = None,
        nonce: Nonce | None = None,
        overlap: str | None = None,
    ) -> EnqueueReceipt: ...

    def emit_many(
        self,
        events: Sequence[TriggerEvent],
        *,
        graph_id: str | Sequence[str],
        source: TriggerSource = TriggerSource.plugin,
        cursors: bool = False,
    ) -> BatchReceipt: ...
