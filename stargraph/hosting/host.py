"""TriggerHost: every trigger plugin in its own task group, supervised (DESIGN.md section 4).

::

    async with TriggerHost(pm, deps, options=HostOptions()) as host:
        app_routes = host.routes          # collected after init, before start
        ...                               # triggers run; host.statuses() shows them
    # every trigger was stopped, within a bound, even if some misbehaved

Entering calls ``trigger_init`` on every plugin (concurrently, each bounded), collects
``trigger_routes`` in load order, then starts each plugin in its own task group and returns once
every plugin's first ``trigger_start`` finished (or failed). Exiting cancels each plugin's task
group and then calls its ``trigger_stop`` (shielded, bounded).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Self

import anyio
import pluggy
from anyio import AsyncContextManagerMixin
from anyio.abc import TaskGroup

from stargraph.errors import StargraphRuntimeError
from stargraph.hosting._supervisor import Hosted, Supervisor
from stargraph.hosting._taskgroup import PluginTaskGroup
from stargraph.hosting._types import HostOptions, PluginState, PluginStatus
from stargraph.lifecycle import LifecycleState
from stargraph.metrics import Metrics
from stargraph.plugin._adapter import unwrap
from stargraph.plugin._report import load_report
from stargraph.plugin.triggers_dispatcher import plugins_in_load_order
from stargraph.scheduler.facade import scheduler_for_plugin

__all__ = ["TriggerHost"]

_REPORT_STATES = {"disabled": PluginState.disabled, "load_failed": PluginState.load_failed}


def _plugin_deps(shared: dict[str, Any], name: str, task_group: object) -> dict[str, Any]:
    """The plugin's own deps: its task group, and the scheduler as seen by that plugin."""
    deps = dict(shared, task_group=task_group)
    if "scheduler" in deps:
        deps["scheduler"] = scheduler_for_plugin(deps["scheduler"], name)
    return deps


class TriggerHost(AsyncContextManagerMixin):
    """Host the trigger plugins of *pm* with *deps* (shared keys; each plugin gets a copy with
    its own ``"task_group"``). Single use: enter it once."""

    def __init__(
        self,
        pm: pluggy.PluginManager,
        deps: Mapping[str, Any] | None = None,
        *,
        options: HostOptions | None = None,
    ) -> None:
        self.pm = pm
        self.options = options or HostOptions()
        self.routes: list[Any] = []
        self._supervisor = Supervisor(pm, self.options)
        shared = dict(deps or {})
        metrics = shared.get("metrics")
        gauge = metrics if isinstance(metrics, Metrics) else None
        self._hosted = [
            self._hosted_for(name, plugin, shared, gauge)
            for name, plugin in plugins_in_load_order(pm)
        ]
        if gauge is not None:  # disabled and load_failed plugins are never hosted: set once
            for status in self.statuses():
                if status.state in _REPORT_STATES.values():
                    gauge.set_trigger_state(status.name, status.state)
        self._state = LifecycleState.new

    @staticmethod
    def _hosted_for(
        name: str, plugin: object, shared: dict[str, Any], metrics: Metrics | None
    ) -> Hosted:
        task_group = PluginTaskGroup(name)
        h = Hosted(
            name=name,
            plugin=plugin,
            deps=_plugin_deps(shared, name, task_group),
            task_group=task_group,
            metrics=metrics,
        )
        h.set_state(PluginState.stopped)
        return h

    @property
    def state(self) -> LifecycleState:
        """Where the host stands in its single-use lifecycle."""
        return self._state

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncGenerator[Self, None]:
        """Init, collect routes and start every plugin; on leaving, stop them all.

        The body's own error propagates unwrapped (it is not the task group's business) once
        every plugin has been stopped; cancellation passes through the task group as usual.
        """
        if self._state is not LifecycleState.new:
            raise StargraphRuntimeError("a TriggerHost can be entered only once; make a new one")
        self._state = LifecycleState.starting
        error: Exception | None = None
        try:
            await self._init_all()
            async with anyio.create_task_group() as tg:
                try:
                    await self._start_all(tg)
                    self._state = LifecycleState.running
                    yield self
                except Exception as exc:
                    error = exc
                finally:
                    self._state = LifecycleState.stopping
                    self._cancel_all()
        finally:
            self._state = LifecycleState.stopped
        if error is not None:
            raise error

    async def _init_all(self) -> None:
        async with anyio.create_task_group() as inits:
            for h in self._hosted:
                inits.start_soon(self._supervisor.init, h, name=f"stargraph.init:{h.name}")
        for h in self._hosted:
            if h.initialized:
                self.routes.extend(await self._supervisor.routes(h))

    def _cancel_all(self) -> None:
        for h in self._hosted:
            if h.scope is not None:
                h.scope.cancel()

    async def _start_all(self, tg: TaskGroup) -> None:
        async def start_one(h: Hosted) -> None:
            await tg.start(self._supervisor.run, h, name=f"stargraph.trigger:{h.name}")

        async with anyio.create_task_group() as starters:
            for h in self._hosted:
                if h.initialized:
                    starters.start_soon(start_one, h)

    def statuses(self) -> list[PluginStatus]:
        """Every plugin in load order, including disabled and failed-to-load entry points."""
        hosted = {h.name: h for h in self._hosted}
        out: list[PluginStatus] = []
        for record in load_report(self.pm).records:
            if record.status in _REPORT_STATES:
                state = _REPORT_STATES[record.status]
                out.append(PluginStatus(name=record.name, state=state, error=record.error))
            elif record.name in hosted:
                out.append(hosted.pop(record.name).status())
        out.extend(h.status() for h in hosted.values())
        return out

    def triggers(self) -> list[tuple[str, object]]:
        """``(plugin name, trigger object)`` for every plugin whose init succeeded; a class
        plugin appears as its own instance (unwrapped from the adapter)."""
        return [(h.name, unwrap(h.plugin)) for h in self._hosted if h.initialized]
