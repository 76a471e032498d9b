"""``deps["task_group"]``: a stable handle on the task group of a plugin's current run."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from anyio import CancelScope
from anyio.abc import TaskGroup

from stargraph.errors import StargraphRuntimeError

__all__ = ["PluginTaskGroup"]


class PluginTaskGroup:
    """Forward ``start_soon``/``start``/``cancel_scope`` to the anyio task group the host opened
    for the plugin's current run. A restart opens a new task group behind the same handle, so
    a plugin keeps the ``deps`` it got in ``init``. Usable from ``start()`` until the host stops
    or restarts the plugin (never from ``init``).
    """

    def __init__(self, plugin_name: str) -> None:
        self._plugin_name = plugin_name
        self._current: TaskGroup | None = None

    def __repr__(self) -> str:
        state = "live" if self._current is not None else "closed"
        return f"<PluginTaskGroup {self._plugin_name!r} {state}>"

    def bind(self, task_group: TaskGroup | None) -> None:
        """Point the handle at *task_group* (None closes it). Used by the host only."""
        self._current = task_group

    def _live(self) -> TaskGroup:
        if self._current is None:
            raise StargraphRuntimeError(
                f"plugin {self._plugin_name!r}: deps['task_group'] is usable only while the "
                "plugin runs, from start() until the host stops it; start background work in "
                "start(), not in init()"
            )
        return self._current

    def start_soon(
        self, func: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: object = None
    ) -> None:
        """Start ``func(*args)`` in the plugin's task group."""
        self._live().start_soon(func, *args, name=name)

    async def start(
        self, func: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: object = None
    ) -> Any:
        """Start ``func(*args, task_status=...)`` and wait until it reports started."""
        return await self._live().start(func, *args, name=name)

    @property
    def cancel_scope(self) -> CancelScope:
        """The cancel scope of the plugin's current run."""
        return self._live().cancel_scope
