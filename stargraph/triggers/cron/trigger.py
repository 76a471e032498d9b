"""``CronTrigger``: the bundled trigger plugin that runs every ``deps["cron_specs"]`` entry."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from stargraph._log import log_event
from stargraph.clock import Clock
from stargraph.errors import ConfigError, StargraphRuntimeError, TriggerNotFound
from stargraph.metrics import Metrics
from stargraph.store.base import RunStore, TriggerState
from stargraph.triggers import Enqueuer, TriggerSource
from stargraph.triggers.control import TriggerInfo
from stargraph.triggers.cron.loop import CronLoop
from stargraph.triggers.cron.policy import next_fire
from stargraph.triggers.cron.schedule import from_epoch, to_epoch
from stargraph.triggers.cron.spec import CronSpec

__all__ = ["CronTrigger"]

logger = logging.getLogger("stargraph.triggers.cron")


def _check_specs(specs: object, graphs: Any) -> list[CronSpec]:
    if not isinstance(specs, Sequence) or isinstance(specs, str):
        raise ConfigError(f"deps['cron_specs'] must be a list of CronSpec, got {type(specs)}")
    seen: set[str] = set()
    for spec in specs:
        if not isinstance(spec, CronSpec):
            raise ConfigError(f"deps['cron_specs'] holds {spec!r}, not a CronSpec")
        if spec.trigger_id in seen:
            raise ConfigError(
                f"cron trigger {spec.trigger_id!r} is defined twice; trigger ids must be unique"
            )
        seen.add(spec.trigger_id)
        if graphs is not None and spec.graph_id not in graphs:
            known = ", ".join(sorted(graphs.ids())) or "none"
            raise ConfigError(
                f"cron trigger {spec.trigger_id!r}: graph_id {spec.graph_id!r} is not a "
                f"registered graph (registered: {known})"
            )
    return list(specs)


class CronTrigger:
    """Runs cron specs through one scheduling loop; implements ``ControllableTrigger``.

    ``init(deps)`` reads ``deps["cron_specs"]`` (a list of :class:`CronSpec`; absent or empty
    makes this trigger a silent no-op), ``deps["scheduler"]`` and optionally ``deps["clock"]``,
    ``deps["store"]`` and ``deps["metrics"]`` (default: the scheduler's).
    """

    def __init__(self) -> None:
        self._specs: list[CronSpec] = []
        self._index: dict[str, int] = {}
        self._deps: dict[str, Any] = {}
        self._loop: CronLoop | None = None

    # -- Trigger --------------------------------------------------------------------------------

    def init(self, deps: dict[str, Any]) -> None:
        """Validate the specs against the registered graphs; fail with ConfigError."""
        specs = deps.get("cron_specs")
        if not specs:
            return
        scheduler = deps.get("scheduler")
        if scheduler is None:
            raise StargraphRuntimeError("the cron trigger requires deps['scheduler']")
        self._specs = _check_specs(specs, getattr(scheduler, "graphs", None))
        self._index = {s.trigger_id: i for i, s in enumerate(self._specs)}
        self._deps = deps

    async def start(self) -> None:
        """Read cursors, apply missed-fire policies and start the loop in deps['task_group']."""
        if not self._specs:
            return
        task_group = self._deps.get("task_group")
        if task_group is None:
            raise StargraphRuntimeError("the cron trigger requires deps['task_group']")
        self._loop = CronLoop(
            self._specs,
            scheduler=self._scheduler,
            store=self._store,
            clock=self._clock,
            metrics=self._metrics,
        )
        await task_group.start(self._loop.run, name="stargraph.cron:loop")
        log_event(logger, "cron.started", triggers=len(self._specs))

    def stop(self) -> None:
        """Forget the loop (the host already cancelled its task group)."""
        self._loop = None

    def routes(self) -> list[Any]:
        """Cron serves no HTTP routes."""
        return []

    # -- deps -----------------------------------------------------------------------------------

    @property
    def _scheduler(self) -> Enqueuer:
        scheduler: Enqueuer = self._deps["scheduler"]
        return scheduler

    @property
    def _store(self) -> RunStore:
        store: RunStore = self._deps.get("store") or self._scheduler.store
        return store

    @property
    def _clock(self) -> Clock:
        clock: Clock = self._deps.get("clock") or self._scheduler.clock
        return clock

    @property
    def _metrics(self) -> Metrics:
        metrics: Metrics = self._deps.get("metrics") or self._scheduler.metrics
        return metrics

    # -- ControllableTrigger --------------------------------------------------------------------

    def trigger_ids(self) -> list[str]:
        """Every cron trigger id this plugin runs."""
        return [s.trigger_id for s in self._specs]

    def _lookup(self, trigger_id: str) -> int:
        i = self._index.get(trigger_id)
        if i is None:
            raise TriggerNotFound(trigger_id)
        return i

    def _info(self, i: int, state: TriggerState | None) -> TriggerInfo:
        spec, loop = self._specs[i], self._loop
        paused = spec.paused or (state is not None and state.paused)
        nxt: int | None = None
        if loop is not None:
            paused, nxt = loop.is_paused(i), loop.next_fire_of(i)
        elif not paused:
            cursor = state.cursor if state and state.cursor else self._clock.now()
            nxt = next_fire(spec, max(to_epoch(cursor), to_epoch(self._clock.now())))
        return TriggerInfo(
            trigger_id=spec.trigger_id,
            kind="cron",
            graph_id=spec.graph_id,
            paused=paused,
            note=state.note if state else None,
            last_fire=state.cursor if state else None,
            next_fire=None if nxt is None else from_epoch(nxt),
        )

    async def describe(self) -> list[TriggerInfo]:
        """State of every cron trigger: paused, cursor (last fire) and next planned fire."""
        if not self._specs:
            return []
        states = {st.trigger_id: st for st in await self._store.list_trigger_states()}
        return [self._info(i, states.get(s.trigger_id)) for i, s in enumerate(self._specs)]

    async def pause(self, trigger_id: str, note: str | None = None) -> TriggerInfo:
        """Stop firing *trigger_id* until resumed (persisted; survives restarts)."""
        i = self._lookup(trigger_id)
        state = await self._store.set_trigger_paused(
            trigger_id, paused=True, now=self._clock.now(), note=note
        )
        if self._loop is not None:
            self._loop.set_paused(i, True, 0)
        log_event(logger, "cron.paused", trigger_id=trigger_id, note=note)
        return self._info(i, state)

    async def resume(self, trigger_id: str) -> TriggerInfo:
        """Resume *trigger_id* from now: fires missed while paused are not run."""
        i = self._lookup(trigger_id)
        now = self._clock.now()
        state = await self._store.set_trigger_paused(trigger_id, paused=False, now=now, cursor=now)
        if self._loop is not None:
            self._loop.set_paused(i, False, to_epoch(now))
        log_event(logger, "cron.resumed", trigger_id=trigger_id)
        return self._info(i, state)

    async def fire(self, trigger_id: str) -> Any:
        """Enqueue one run of *trigger_id* now (even while paused) and wait until durable."""
        spec = self._specs[self._lookup(trigger_id)]
        if not self._deps:
            raise StargraphRuntimeError("the cron trigger is not initialised")
        result = await self._scheduler.enqueue(
            spec.graph_id,
            spec.params,
            f"cron:{trigger_id}:manual:{uuid.uuid4().hex}",
            trigger_id=trigger_id,
            trigger_source=TriggerSource.cron,
            scheduled_fire=self._clock.now(),
        )
        log_event(logger, "cron.fired_manually", trigger_id=trigger_id, run_id=result.run_id)
        return result
