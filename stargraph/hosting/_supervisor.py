"""Supervise one trigger plugin: its own task group, bounded lifecycle calls, restarts.

Events (logger ``stargraph.triggers``): ``trigger.started``, ``trigger.crashed``,
``trigger.restarting``, ``trigger.failed``, ``trigger.stopped``; a failing or hung hook is
``trigger.lifecycle.failed`` (from the dispatcher).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import anyio
import attrs
import pluggy
from anyio.abc import TaskStatus

from stargraph._log import log_event
from stargraph.errors import describe_error, first_leaf
from stargraph.hosting._taskgroup import PluginTaskGroup
from stargraph.hosting._types import HostOptions, PluginState, PluginStatus
from stargraph.metrics import Metrics
from stargraph.plugin.triggers_dispatcher import DispatchResult, acall_hook

__all__ = ["Hosted", "Supervisor"]

_log = logging.getLogger("stargraph.triggers")
Outcome = Literal["crashed", "start_failed", "ended"]


@attrs.define(eq=False)
class Hosted:
    """The host's record of one plugin."""

    name: str
    plugin: object
    deps: dict[str, Any]
    task_group: PluginTaskGroup
    metrics: Metrics | None = None
    state: PluginState = PluginState.stopped
    error: str | None = None
    restarts: int = 0
    initialized: bool = False
    needs_stop: bool = False
    scope: anyio.CancelScope | None = None

    def set_state(self, state: PluginState, error: str | None = None) -> None:
        """Record *state* (and the failure behind it) and mirror it in the metrics gauge."""
        self.state = state
        if error is not None:
            self.error = error
        if self.metrics is not None:
            self.metrics.set_trigger_state(self.name, state)

    def status(self) -> PluginStatus:
        """The plugin's current :class:`PluginStatus`."""
        return PluginStatus(
            name=self.name, state=self.state, error=self.error, restarts=self.restarts
        )


class _Ready:
    """Call ``task_status.started()`` once, whatever path the supervisor takes."""

    def __init__(self, task_status: TaskStatus[None]) -> None:
        self._task_status = task_status
        self._done = False

    def __call__(self) -> None:
        if not self._done:
            self._done = True
            self._task_status.started()


@attrs.frozen
class Supervisor:
    """Runs lifecycle calls for hosted plugins under :class:`HostOptions`."""

    pm: pluggy.PluginManager
    options: HostOptions

    async def _call(self, h: Hosted, hook: str, timeout: float) -> DispatchResult | None:
        kwargs = {} if hook == "trigger_routes" else {"deps": h.deps}
        return await acall_hook(self.pm, h.name, h.plugin, hook, kwargs, timeout)

    async def init(self, h: Hosted) -> None:
        """Call ``trigger_init``; a failure leaves the plugin ``failed`` (never started)."""
        result = await self._call(h, "trigger_init", self.options.init_timeout)
        if result is not None and not result.success:
            h.set_state(PluginState.failed, f"trigger_init: {describe_error(result.error)}")
            return
        h.initialized = True

    async def routes(self, h: Hosted) -> list[Any]:
        """Return the plugin's Blueprints; a failure leaves it ``failed`` (never started)."""
        result = await self._call(h, "trigger_routes", self.options.routes_timeout)
        if result is None:
            return []
        if not result.success:
            h.initialized = False
            h.set_state(PluginState.failed, f"trigger_routes: {describe_error(result.error)}")
            return []
        return list(result.result)

    async def run(self, h: Hosted, *, task_status: TaskStatus[None]) -> None:
        """Start *h* and keep it running until cancelled; report started after the first try.

        Cancelling ``h.scope`` stops it: its task group is cancelled, then ``stop`` is called.
        """
        ready = _Ready(task_status)
        try:
            with anyio.CancelScope() as h.scope:
                await self._run_with_restarts(h, ready)
        except Exception as exc:  # a defect here must not take the other plugins down
            h.set_state(PluginState.failed, f"supervisor: {describe_error(exc)}")
            log_event(
                _log,
                "trigger.failed",
                logging.ERROR,
                plugin=h.name,
                error=h.error,
                restarts=h.restarts,
            )
        finally:  # also when the host itself is cancelled from outside
            ready()
            await self._stop(h)
            if h.state in (PluginState.running, PluginState.restarting):
                h.set_state(PluginState.stopped)
                log_event(_log, "trigger.stopped", plugin=h.name)

    async def _run_with_restarts(self, h: Hosted, ready: _Ready) -> None:
        opts = self.options
        while True:
            began = anyio.current_time()
            outcome = await self._incarnation(h, ready)
            ready()
            await self._stop(h)
            if outcome == "ended":
                h.set_state(PluginState.stopped)
                return
            if anyio.current_time() - began >= opts.stable_after:
                h.restarts = 0
            if h.restarts >= opts.max_restarts:
                h.set_state(PluginState.failed)
                log_event(
                    _log,
                    "trigger.failed",
                    logging.ERROR,
                    plugin=h.name,
                    error=h.error,
                    restarts=h.restarts,
                )
                return
            delay = opts.backoff(h.restarts)
            h.restarts += 1
            h.set_state(PluginState.restarting)
            log_event(
                _log,
                "trigger.restarting",
                logging.WARNING,
                plugin=h.name,
                attempt=h.restarts,
                delay=delay,
            )
            await anyio.sleep(delay)

    async def _incarnation(self, h: Hosted, ready: _Ready) -> Outcome:
        """Run the plugin once in a fresh task group; return how that run ended."""
        outcome: Outcome = "ended"
        try:
            async with anyio.create_task_group() as tg:
                h.task_group.bind(tg)
                h.needs_stop = True
                result = await self._call(h, "trigger_start", self.options.start_timeout)
                if result is not None and not result.success:
                    h.error = f"trigger_start: {describe_error(result.error)}"
                    outcome = "start_failed"
                    tg.cancel_scope.cancel()
                else:
                    h.set_state(PluginState.running)
                    log_event(_log, "trigger.started", plugin=h.name, restarts=h.restarts)
                    ready()
                    await anyio.sleep_forever()
        except* Exception as group:
            outcome = "crashed"
            h.error = describe_error(group)
            leaf = first_leaf(group)
            log_event(
                _log,
                "trigger.crashed",
                logging.ERROR,
                plugin=h.name,
                error_type=type(leaf).__name__,
                message=str(leaf),
                restarts=h.restarts,
            )
        finally:
            h.task_group.bind(None)
        return outcome

    async def _stop(self, h: Hosted) -> None:
        """Call ``trigger_stop`` once per start: shielded, bounded by ``stop_timeout``."""
        if not h.needs_stop:
            return
        h.needs_stop = False
        with anyio.CancelScope(shield=True):
            result = await self._call(h, "trigger_stop", self.options.stop_timeout)
        if result is not None and not result.success:
            h.set_state(PluginState.failed, f"trigger_stop: {describe_error(result.error)}")
