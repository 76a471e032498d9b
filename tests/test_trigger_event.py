"""TriggerEvent validation and the Trigger Protocol's structural check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stargraph.errors import InvalidTriggerEvent, StargraphError
from stargraph.triggers import Trigger, TriggerEvent

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_valid_event_is_frozen_and_keeps_its_payload() -> None:
    event = TriggerEvent(trigger_id="t", scheduled_fire=NOW, idempotency_key="k", payload={"a": 1})
    assert event.payload == {"a": 1}
    with pytest.raises(AttributeError):
        event.trigger_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize("key", ["", "   ", None, 3])
def test_idempotency_key_must_be_non_empty(key: object) -> None:
    with pytest.raises(InvalidTriggerEvent, match="idempotency_key"):
        TriggerEvent(trigger_id="t", scheduled_fire=NOW, idempotency_key=key, payload={})  # type: ignore[arg-type]


def test_naive_scheduled_fire_is_refused() -> None:
    with pytest.raises(InvalidTriggerEvent, match="timezone-aware"):
        TriggerEvent(
            trigger_id="t", scheduled_fire=datetime(2026, 1, 1), idempotency_key="k", payload={}
        )


def test_scheduled_fire_must_be_a_datetime() -> None:
    with pytest.raises(InvalidTriggerEvent, match="scheduled_fire"):
        TriggerEvent(trigger_id="t", scheduled_fire="2026-01-01", idempotency_key="k")  # type: ignore[arg-type]


@pytest.mark.parametrize("trigger_id", ["", None])
def test_trigger_id_must_be_non_empty(trigger_id: object) -> None:
    with pytest.raises(InvalidTriggerEvent, match="trigger_id"):
        TriggerEvent(trigger_id=trigger_id, scheduled_fire=NOW, idempotency_key="k")  # type: ignore[arg-type]


@pytest.mark.parametrize("payload", [[1, 2], "text", {"x": {1, 2}}, {"x": float("nan")}])
def test_payload_must_be_a_json_object(payload: object) -> None:
    with pytest.raises(InvalidTriggerEvent, match="payload"):
        TriggerEvent(trigger_id="t", scheduled_fire=NOW, idempotency_key="k", payload=payload)  # type: ignore[arg-type]


def test_errors_share_one_root() -> None:
    assert issubclass(InvalidTriggerEvent, StargraphError)
    assert issubclass(InvalidTriggerEvent, ValueError)


def test_trigger_protocol_is_structural() -> None:
    class Plain:
        def init(self, deps: dict[str, object]) -> None: ...
        def start(self) -> None: ...
        def stop(self) -> None: ...
        def routes(self) -> list[object]:
            return []

    class Asynchronous:
        async def init(self, deps: dict[str, object]) -> None: ...
        async def start(self) -> None: ...
        async def stop(self) -> None: ...
        def routes(self) -> list[object]:
            return []

    class Missing:
        def init(self, deps: dict[str, object]) -> None: ...

    assert isinstance(Plain(), Trigger)
    assert isinstance(Asynchronous(), Trigger)
    assert not isinstance(Missing(), Trigger)
