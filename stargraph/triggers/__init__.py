"""Triggers: the :class:`Trigger` Protocol, :class:`TriggerEvent`, and lifecycle helpers.

A trigger is any object with ``init(deps)``, ``start()``, ``stop()`` and ``routes()`` (each sync
or ``async def``). No inheritance is needed: ``isinstance(obj, Trigger)`` checks the shape.
A trigger that also implements :class:`~stargraph.triggers.control.ControllableTrigger` is listed
in ``/v1/triggers`` with pause, resume and fire.

The contract lives in the leaf module ``stargraph.triggers._contract``; the lifecycle helpers are
re-exported from :mod:`stargraph.plugin.triggers_dispatcher`, which imports only that leaf.
"""

from __future__ import annotations

from stargraph.plugin.triggers_dispatcher import (
    DispatchResult,
    collect_trigger_routes,
    dispatch_trigger_lifecycle,
)
from stargraph.triggers._contract import Trigger, TriggerEvent
from stargraph.triggers.control import ControllableTrigger, TriggerInfo

__all__ = [
    "ControllableTrigger",
    "DispatchResult",
    "Trigger",
    "TriggerEvent",
    "TriggerInfo",
    "collect_trigger_routes",
    "dispatch_trigger_lifecycle",
]
