"""The trigger contract: the :class:`Trigger` Protocol and :class:`TriggerEvent` (a leaf module).

Kept free of Stargraph imports beyond errors and JSON helpers, so the plugin machinery and the
bundled triggers can import it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from stargraph._json import JSONObject, ensure_json_object
from stargraph.errors import InvalidTriggerEvent

__all__ = ["Trigger", "TriggerEvent"]


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


def _check_trigger_id(_inst: object, _attr: object, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidTriggerEvent(
            f"TriggerEvent.trigger_id must be a non-empty string, got {value!r}"
        )


def _check_key(_inst: object, _attr: object, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidTriggerEvent(
            f"TriggerEvent.idempotency_key must be a non-empty string, got {value!r}; derive it "
            "from the signal (a message id, a file path plus fingerprint, a planned fire time)"
        )


def _check_fire(_inst: object, _attr: object, value: Any) -> None:
    if not isinstance(value, datetime):
        raise InvalidTriggerEvent(
            f"TriggerEvent.scheduled_fire must be a datetime, got {type(value).__name__}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTriggerEvent(
            f"TriggerEvent.scheduled_fire must be timezone-aware, got naive {value.isoformat()}; "
            "use datetime.now(UTC)"
        )


def _to_payload(value: object) -> JSONObject:
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
    """One signal a trigger turned into a run request."""

    trigger_id: str = attrs.field(validator=_check_trigger_id)
    scheduled_fire: datetime = attrs.field(validator=_check_fire)
    idempotency_key: str = attrs.field(validator=_check_key)
    payload: JSONObject = attrs.field(factory=dict, converter=_to_payload)
