"""``CronTrigger``: the bundled trigger plugin that runs every ``deps["cron_specs"]`` entry."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from stargraph._log import log_event
from stargraph.clock import Clock
from stargraph.errors import ConfigError, StargraphRuntimeError, TriggerNotFound
from stargraph.metrics import Metrics
from stargraph.store.base import RunStore, TriggerState
from stargraph.triggers import Enqueuer, TriggerSource
from stargraph.triggers.control import TriggerInfo
from stargraph.triggers.cron import backfill
from stargraph.triggers.cron.backfill import Backfill
from stargraph.triggers.cron.interval import IntervalSpec, TimeSpec, every_text
from stargraph.triggers.cron.loop import CronLoop
from stargraph.triggers.cron.policy import next_fire
from stargraph.triggers.cron.schedule import from_epoch, to_epoch
from stargraph.triggers.cron.spec import CronSpec

UPCOMING = 5  # planned fires ``describe`` lists in ``details["next_fires"]``

__all__ = ["CronTrigger"]

logger = logging.getLogger("stargraph.triggers.cron")


def _check_specs(specs: object, graphs: Any, key: str = "cron_specs") -> list[TimeSpec]:
    kind = CronSpec if key == "cron_specs" else IntervalSpec
    if not isinstance(specs, Sequence) or isinstance(specs, str):
        raise ConfigError(f"deps[{key!r}] must be a list of {kind.__name__}, got {type(specs)}")
    seen: set[str] = set()
    for spec in specs:
        if not isinstance(spec, kind):
            raise ConfigError(f"deps[{key!r}] holds {spec!r}, not a {kind.__name__}")
        if spec.trigger_id in seen:
            raise ConfigError(
                f"{spec.kind} trigger {spec.trigger_id!r} is defined twice; trigger ids must be "
                "unique"
            )
        seen.add(spec.trigger_id)
        if graphs is not None and spec.graph_id not in graphs:
            known = ", ".join(sorted(graphs.ids())) or "none"
            raise ConfigError(
                f"{spec.kind} trigger {spec.trigger_id!r}: graph_id {spec.graph_id!r} is not a "
                f"registered graph (registered: {known})"
            )
    return list(specs)


class CronTrigger:
    """Runs cron and interval specs through one scheduling loop (one heap for every time
    trigger); implements ``ControllableTrigger`` and :meth:`backfill`.

    ``init(deps)`` reads ``deps["cron_specs"]`` (a list of :class:`CronSpec`) and
    ``deps["interval_specs"]`` (a list of :class:`IntervalSpec`) (both absent or empty makes
    this trigger a silent no-op), ``deps["scheduler"]`` and optionally ``deps["clock"]``,
    ``deps["store"]`` and ``deps["metrics"]`` (default: the scheduler's).
    """

    def __init__(self) -> None:
        self._specs: list[TimeSpec] = []
        self._index: dict[str, int] = {}
        self._deps: dict[str, Any] = {}
        self._loop: CronLoop | None = None

    # -- Trigger --------------------------------------------------------------------------------

    def init(self, deps: dict[str, Any]) -> None:
        """Validate the specs against the registered graphs; fail with ConfigError."""
        cron, interval = deps.get("cron_specs"), deps.get("interval_specs")
        if not cron and not interval:
            return
        scheduler = deps.get("scheduler")
        if scheduler is None:
            raise StargraphRuntimeError("the cron trigger requires deps['scheduler']")
        graphs = getattr(scheduler, "graphs", None)
        specs = _check_specs(cron or [], graphs) + _check_specs(
            interval or [], graphs, "interval_specs"
        )
        seen: set[str] = set()
        for spec in specs:
            if spec.trigger_id in seen:
                raise ConfigError(
                    f"trigger id {spec.trigger_id!r} is used by a cron and an interval trigger; "
                    "trigger ids must be unique"
                )
            seen.add(spec.trigger_id)
        self._specs = specs
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
        intervals = sum(isinstance(s, IntervalSpec) for s in self._specs)
        log_event(logger, "cron.started", triggers=len(self._specs), interval_triggers=intervals)

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
        """Every cron and interval trigger id this plugin runs."""
        return [s.trigger_id for s in self._specs]

    def _lookup(self, trigger_id: str) -> int:
        i = self._index.get(trigger_id)
        if i is None:
            raise TriggerNotFound(trigger_id)
        return i

    def _spec(self, i: int, state: TriggerState | None = None) -> TimeSpec | None:
        """Spec *i* with its interval anchor resolved (``None``: not anchored yet)."""
        if self._loop is not None:
            return self._loop.specs[i]
        spec = self._specs[i]
        if isinstance(spec, IntervalSpec) and spec.start_at is None:
            return None if state is None or state.anchor is None else spec.anchored(state.anchor)
        return spec

    def _info(self, i: int, state: TriggerState | None) -> TriggerInfo:
        spec, loop = self._specs[i], self._loop
        paused = spec.paused or (state is not None and state.paused)
        nxt: int | None = None
        if loop is not None:
            paused, nxt = loop.is_paused(i), loop.next_fire_of(i)
        elif not paused and (resolved := self._spec(i, state)) is not None:
            cursor = state.cursor if state and state.cursor else self._clock.now()
            nxt = next_fire(resolved, max(to_epoch(cursor), to_epoch(self._clock.now())))
        return TriggerInfo(
            trigger_id=spec.trigger_id,
            kind=spec.kind,
            graph_id=spec.graph_id,
            paused=paused,
            note=state.note if state else None,
            last_fire=state.cursor if state else None,
            next_fire=None if nxt is None else from_epoch(nxt),
            schedule=every_text(spec.every) if isinstance(spec, IntervalSpec) else spec.schedule,
            tz=None if isinstance(spec, IntervalSpec) else spec.tz,
            details={
                "missed_fire_policy": str(spec.missed_fire_policy),
                "overlap": str(spec.overlap),
                "next_fires": self._upcoming(i, state, nxt),
            },
        )

    def _upcoming(self, i: int, state: TriggerState | None, nxt: int | None) -> list[str]:
        """The next :data:`UPCOMING` planned fires from *nxt*, ISO-8601 in UTC."""
        resolved = self._spec(i, state)
        out: list[str] = []
        while nxt is not None and resolved is not None and len(out) < UPCOMING:
            out.append(from_epoch(nxt).isoformat())
            nxt = next_fire(resolved, nxt)
        return out

    async def describe(self) -> list[TriggerInfo]:
        """State of every cron and interval trigger: paused, last fire, next planned fire."""
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
            f"{spec.kind}:{trigger_id}:manual:{uuid.uuid4().hex}",
            trigger_id=trigger_id,
            trigger_source=TriggerSource(spec.kind),
            scheduled_fire=self._clock.now(),
        )
        log_event(logger, "cron.fired_manually", trigger_id=trigger_id, run_id=result.run_id)
        return result

    async def backfill(
        self, trigger_id: str, start: datetime, end: datetime, *, dry_run: bool = False
    ) -> Backfill:
        """Enqueue one run per planned fire in [start, end] with the live fire's key.

        InvalidParams for naive times, an inverted range or more than 10,000 fires; TriggerNotFound
        for an unknown id. An interval trigger not yet anchored has no planned fires.
        """
        i = self._lookup(trigger_id)
        spec = self._spec(i, await self._store.get_trigger_state(trigger_id))
        fires = [] if spec is None else backfill.plan_fires(spec, start, end)
        if dry_run or spec is None:
            return backfill.dry_run(fires)
        policy = self._scheduler.graphs.get(spec.graph_id).policy
        result = await backfill.run_backfill(
            spec, fires, store=self._store, now=self._clock.now(),
            max_attempts=policy.max_attempts,
        )  # fmt: skip
        wake = getattr(self._scheduler, "wake", None)
        if callable(wake) and result.enqueued:
            wake()
        if result.enqueued:
            self._metrics.runs_enqueued.labels(spec.graph_id, spec.kind).inc(result.enqueued)
        log_event(
            logger, "trigger.backfill", trigger_id=trigger_id, planned=result.planned,
            enqueued=result.enqueued, deduplicated=result.deduplicated,
        )  # fmt: skip
        return result
