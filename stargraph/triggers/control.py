"""The control surface a hosted trigger may offer: describe, pause, resume, fire now.

Public: a third-party trigger implements :class:`ControllableTrigger` (structurally, no
inheritance) to appear in ``GET /v1/triggers`` and ``stargraph triggers`` with pause, resume and
fire. The API finds these methods with ``isinstance(plugin, ControllableTrigger)``; a plugin that
does not implement them is listed in ``/v1/plugins`` by name and state only.
See ``docs/plugins.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    from stargraph.scheduler import Enqueued

__all__ = ["ControllableTrigger", "TriggerInfo"]


@attrs.frozen(kw_only=True)
class TriggerInfo:
    """What the API shows of one trigger id (``kind`` is ``cron``, ``webhook``, ``plugin``...).

    ``schedule`` and ``tz`` are a time-based trigger's expression and IANA zone (``None`` for
    the others); clients show ``next_fire`` in that zone and in UTC.
    ``error`` is a problem the trigger is in right now and recovers from by itself (an ``fs``
    trigger's folder is missing, say); ``None`` when it is healthy.
    ``details`` holds kind-specific JSON values (a queue trigger's ``source``, ``connected``,
    ``pending``, ``lag``); the API shows it as ``details``.
    """

    trigger_id: str
    kind: str
    graph_id: str | None = None
    paused: bool = False
    note: str | None = None
    last_fire: datetime | None = None
    next_fire: datetime | None = None
    schedule: str | None = None
    tz: str | None = None
    error: str | None = None
    details: dict[str, Any] = attrs.field(factory=dict)


@runtime_checkable
class ControllableTrigger(Protocol):
    """A trigger plugin that owns trigger ids and lets operators control them."""

    def trigger_ids(self) -> list[str]:
        """Return the trigger ids this plugin owns."""
        ...

    async def describe(self) -> list[TriggerInfo]:
        """Return the current state of every trigger id this plugin owns."""
        ...

    async def pause(self, trigger_id: str, note: str | None = None) -> TriggerInfo:
        """Pause *trigger_id* (persisted in the store) and return its new state."""
        ...

    async def resume(self, trigger_id: str) -> TriggerInfo:
        """Resume *trigger_id* from now (no catch-up burst) and return its new state."""
        ...

    async def fire(self, trigger_id: str) -> Enqueued:
        """Enqueue one run of *trigger_id* now, durably; return the receipt's result."""
        ...
