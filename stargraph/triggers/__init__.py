"""Triggers: the :class:`Trigger` Protocol, :class:`TriggerEvent`, :class:`TriggerSource`,
the :class:`Enqueuer` Protocol of ``deps["scheduler"]``, and lifecycle helpers.

A trigger is any object with ``init(deps)``, ``start()``, ``stop()`` and ``routes()`` (each sync
or ``async def``). No inheritance is needed: ``isinstance(obj, Trigger)`` checks the shape.
A trigger that also implements :class:`~stargraph.triggers.control.ControllableTrigger` is listed
in ``/v1/triggers`` with pause, resume and fire.

The contract lives in the leaf module ``stargraph.triggers._contract`` and the per-plugin lifecycle
dispatch in ``stargraph.triggers._lifecycle``; neither imports ``stargraph.plugin`` (which
imports them), so there is no import cycle between the two packages.
"""

from __future__ import annotations

from stargraph.triggers._contract import (
    MAX_KEY_LENGTH,
    Enqueuer,
    Trigger,
    TriggerEvent,
    TriggerSource,
    check_fire_time,
    check_idempotency_key,
    check_trigger_id,
)
from stargraph.triggers._lifecycle import (
    DispatchResult,
    collect_trigger_routes,
    dispatch_trigger_lifecycle,
)
from stargraph.triggers.control import ControllableTrigger, TriggerInfo

__all__ = [
    "MAX_KEY_LENGTH",
    "ControllableTrigger",
    "DispatchResult",
    "Enqueuer",
    "Trigger",
    "TriggerEvent",
    "TriggerInfo",
    "TriggerSource",
    "check_fire_time",
    "check_idempotency_key",
    "check_trigger_id",
    "collect_trigger_routes",
    "dispatch_trigger_lifecycle",
]
