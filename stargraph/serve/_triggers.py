"""Find controllable triggers among the hosted plugins and describe them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stargraph.errors import TriggerNotFound
from stargraph.triggers.control import ControllableTrigger
from stargraph.views import trigger_to_json

if TYPE_CHECKING:
    from stargraph.hosting import PluginStatus
    from stargraph.runtime import Runtime
    from stargraph.store.base import Enqueued

__all__ = [
    "describe_all",
    "describe_one",
    "find_trigger",
    "fire",
    "pause",
    "plugin_states",
    "plugin_statuses",
    "resume",
]


def plugin_states(runtime: Runtime) -> dict[str, str]:
    """Map each hosted plugin's name to its state (``running``, ``failed``, ...)."""
    return {s.name: str(getattr(s.state, "value", s.state)) for s in runtime.host.statuses()}


def _controllables(runtime: Runtime) -> list[tuple[str, ControllableTrigger]]:
    return [
        (name, obj) for name, obj in runtime.host.triggers() if isinstance(obj, ControllableTrigger)
    ]


async def describe_all(runtime: Runtime) -> list[dict[str, Any]]:
    """Return every trigger id of every controllable plugin, sorted by trigger id."""
    states = plugin_states(runtime)
    items: list[dict[str, Any]] = []
    for name, obj in _controllables(runtime):
        infos = await obj.describe()
        items.extend(trigger_to_json(i, name, states.get(name, "unknown")) for i in infos)
    return sorted(items, key=lambda item: item["trigger_id"])


def find_trigger(runtime: Runtime, trigger_id: str) -> tuple[str, ControllableTrigger]:
    """Return ``(plugin name, plugin)`` owning *trigger_id*, or raise TriggerNotFound."""
    for name, obj in _controllables(runtime):
        if trigger_id in obj.trigger_ids():
            return name, obj
    raise TriggerNotFound(trigger_id)


async def describe_one(runtime: Runtime, trigger_id: str) -> dict[str, Any]:
    """Return the API view of *trigger_id*."""
    name, obj = find_trigger(runtime, trigger_id)
    for info in await obj.describe():
        if info.trigger_id == trigger_id:
            return trigger_to_json(info, name, plugin_states(runtime).get(name, "unknown"))
    raise TriggerNotFound(trigger_id)


async def pause(runtime: Runtime, trigger_id: str, note: str | None) -> dict[str, Any]:
    """Pause *trigger_id* (persisted) and return its API view."""
    name, obj = find_trigger(runtime, trigger_id)
    info = await obj.pause(trigger_id, note)
    return trigger_to_json(info, name, plugin_states(runtime).get(name, "unknown"))


async def resume(runtime: Runtime, trigger_id: str) -> dict[str, Any]:
    """Resume *trigger_id* from now (no catch-up burst) and return its API view."""
    name, obj = find_trigger(runtime, trigger_id)
    info = await obj.resume(trigger_id)
    return trigger_to_json(info, name, plugin_states(runtime).get(name, "unknown"))


async def fire(runtime: Runtime, trigger_id: str) -> Enqueued:
    """Enqueue one run of *trigger_id* now."""
    _, obj = find_trigger(runtime, trigger_id)
    return await obj.fire(trigger_id)


def plugin_statuses(runtime: Runtime) -> list[PluginStatus]:
    """Every registered plugin (running, failed with the reason, disabled, ...) by name."""
    return sorted(runtime.host.statuses(), key=lambda status: status.name)
