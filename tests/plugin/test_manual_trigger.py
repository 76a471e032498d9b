"""The bundled manual trigger: a thin, checked path to ``scheduler.enqueue``."""

from __future__ import annotations

from typing import Any

import pytest

from stargraph.errors import StargraphRuntimeError
from stargraph.triggers import Trigger
from stargraph.triggers.manual import ManualTrigger


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def enqueue(
        self, graph_id: str, params: Any = None, idempotency_key: Any = None, **extra: Any
    ) -> object:
        self.calls.append({"graph_id": graph_id, "params": params, "key": idempotency_key, **extra})
        return ("receipt", len(self.calls))


def test_is_a_trigger_with_no_routes_and_no_background_work() -> None:
    trigger = ManualTrigger()
    assert isinstance(trigger, Trigger)
    trigger.init({"scheduler": Recorder()})
    assert trigger.start() is None and trigger.stop() is None
    assert trigger.routes() == []


def test_init_requires_the_scheduler() -> None:
    with pytest.raises(StargraphRuntimeError) as info:
        ManualTrigger().init({"store": object()})
    assert str(info.value) == "ManualTrigger.init(deps) requires deps['scheduler']"


def test_enqueue_returns_the_schedulers_receipt() -> None:
    scheduler = Recorder()
    trigger = ManualTrigger()
    trigger.init({"scheduler": scheduler})
    assert trigger.enqueue("report", {"day": "mon"}, idempotency_key="k1") == ("receipt", 1)
    assert trigger.enqueue("report") == ("receipt", 2)
    assert scheduler.calls == [
        {"graph_id": "report", "params": {"day": "mon"}, "key": "k1", "trigger_source": "manual"},
        {"graph_id": "report", "params": None, "key": None, "trigger_source": "manual"},
    ]


def test_enqueue_before_init_is_refused() -> None:
    with pytest.raises(StargraphRuntimeError, match=r"requires init\(deps\)"):
        ManualTrigger().enqueue("report")
