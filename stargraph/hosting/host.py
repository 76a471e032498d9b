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

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import anyio
import pluggy
from anyio.abc import TaskGroup

from stargraph.errors import StargraphRuntimeError
from stargraph.hosting._supervisor import Hosted, Supervisor
from stargraph.hosting._taskgroup import PluginTaskGroup
from stargraph.hosting._types import HostOptions, PluginState, PluginStatus
from stargraph.metrics import Metrics
from stargraph.plugin._adapter import unwrap
from stargraph.plugin._report import load_report
from stargraph.plugin.triggers_dispatcher import plugins_in_load_order
from stargraph.scheduler.facade import scheduler_for_plugin

__all__ = ["TriggerHost"]

_REPORT_STATES = {"disabled": PluginState.DISABLED, "load_failed": PluginState.LOAD_FAILED}


def _plugin_deps(shared: dict[str, Any], name: str, task_group: object) -> dict[str, Any]:
    """The plugin's own deps: its task group, and the scheduler as seen by that plugin."""
    deps = dict(shared, task_group=task_group)
    if "scheduler" in deps:
        deps["scheduler"] = scheduler_for_plugin(deps["scheduler"], name)
    return deps


class TriggerHost:
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
        self._entered = False
        self._tg: TaskGroup | None = None

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
        h.set_state(PluginState.STOPPED)
        return h

    async def __aenter__(self) -> TriggerHost:
        if self._entered:
            raise StargraphRuntimeError("a TriggerHost can be entered only once; make a new one")
        self._entered = True
        async with anyio.create_task_group() as inits:
            for h in self._hosted:
                inits.start_soon(self._supervisor.init, h)
        for h in self._hosted:
            if h.initialized:
                self.routes.extend(await self._supervisor.routes(h))
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        try:
            await self._start_all(self._tg)
        except BaseException as exc:
            self._cancel_all()
            await self._tg.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None
        self._cancel_all()
        if exc is not None and not isinstance(exc, Exception):  # cancellation and the like
            return await self._tg.__aexit__(exc_type, exc, tb)
        # The body's own error is not the task group's business: it propagates unwrapped (not in
        # an exception group) once every plugin has been stopped.
        await self._tg.__aexit__(None, None, None)
        return None

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
