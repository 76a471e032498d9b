"""``FsTrigger``: the bundled plugin that watches every ``deps["fs_specs"]`` folder."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from stargraph._log import log_event
from stargraph.errors import ConfigError, StargraphRuntimeError, TriggerNotFound
from stargraph.triggers.control import TriggerInfo
from stargraph.triggers.fs.spec import FsSpec
from stargraph.triggers.fs.watch import FolderWatch

__all__ = ["FsTrigger"]

logger = logging.getLogger("stargraph.triggers.fs")


def _check_specs(specs: object) -> list[FsSpec]:
    if not isinstance(specs, Sequence) or isinstance(specs, str):
        raise ConfigError(f"deps['fs_specs'] must be a list of FsSpec, got {type(specs)}")
    seen: set[str] = set()
    for spec in specs:
        if not isinstance(spec, FsSpec):
            raise ConfigError(f"deps['fs_specs'] holds {spec!r}, not an FsSpec")
        if spec.trigger_id in seen:
            raise ConfigError(
                f"fs trigger {spec.trigger_id!r} is defined twice; trigger ids must be unique"
            )
        seen.add(spec.trigger_id)
    return list(specs)


class FsTrigger:
    """Runs a graph per file content landing in a folder; implements ``ControllableTrigger``.

    ``init(deps)`` reads ``deps["fs_specs"]`` (a list of :class:`FsSpec`; absent or empty makes
    this trigger a silent no-op) and ``deps["scheduler"]``; ``start()`` runs one
    :class:`FolderWatch` per spec in ``deps["task_group"]``. Runs are recorded with
    ``trigger_source="fs"`` and the spec's ``trigger_id``.
    """

    def __init__(self) -> None:
        self._specs: list[FsSpec] = []
        self._deps: dict[str, Any] = {}
        self._watches: dict[str, FolderWatch] = {}

    def init(self, deps: dict[str, Any]) -> None:
        """Check the specs and keep the deps; raise without ``deps['scheduler']``."""
        specs = deps.get("fs_specs")
        if not specs:
            return
        if deps.get("scheduler") is None:
            raise StargraphRuntimeError("the fs trigger requires deps['scheduler']")
        self._specs = _check_specs(specs)
        self._deps = deps

    async def start(self) -> None:
        """Start one folder watch per spec; return once each watches (or found its folder
        missing). Paused ones stay paused (from the store)."""
        if not self._specs:
            return
        task_group = self._deps.get("task_group")
        if task_group is None:
            raise StargraphRuntimeError("the fs trigger requires deps['task_group']")
        paused = await self._persisted_pauses()
        scheduler = self._deps["scheduler"]
        clock = self._deps.get("clock") or scheduler.clock
        self._watches = {}
        for spec in self._specs:
            watch = FolderWatch(spec, scheduler, clock)
            watch.paused = spec.paused or spec.trigger_id in paused
            self._watches[spec.trigger_id] = watch
            await task_group.start(watch.run, name=f"stargraph.fs:{spec.trigger_id}")
        log_event(logger, "fs.started", triggers=len(self._specs))

    def stop(self) -> None:
        """Nothing to release: the host cancelled the watches' task group."""

    def routes(self) -> list[Any]:
        """The fs trigger serves no HTTP routes."""
        return []

    async def _persisted_pauses(self) -> set[str]:
        store = self._deps.get("store")
        if store is None:
            return set()
        return {st.trigger_id for st in await store.list_trigger_states() if st.paused}

    # -- ControllableTrigger --------------------------------------------------------------------

    def trigger_ids(self) -> list[str]:
        """Every fs trigger id this plugin runs."""
        return [s.trigger_id for s in self._specs]

    def _spec(self, trigger_id: str) -> FsSpec:
        for spec in self._specs:
            if spec.trigger_id == trigger_id:
                return spec
        raise TriggerNotFound(trigger_id)

    def _info(self, spec: FsSpec, note: str | None = None) -> TriggerInfo:
        watch = self._watches.get(spec.trigger_id)
        return TriggerInfo(
            trigger_id=spec.trigger_id,
            kind="fs",
            graph_id=spec.graph_id,
            paused=watch.paused if watch else spec.paused,
            note=note,
            last_fire=watch.last_fire if watch else None,
            error=watch.error if watch else None,
        )

    async def describe(self) -> list[TriggerInfo]:
        """Each watched folder: paused, last run enqueued, and an error (missing folder)."""
        store = self._deps.get("store")
        states = {st.trigger_id: st for st in await store.list_trigger_states()} if store else {}
        return [
            self._info(s, states[s.trigger_id].note if s.trigger_id in states else None)
            for s in self._specs
        ]

    async def _set_paused(self, trigger_id: str, paused: bool, note: str | None) -> TriggerInfo:
        spec = self._spec(trigger_id)
        store = self._deps.get("store")
        if store is not None:
            now = self._deps["scheduler"].clock.now()
            await store.set_trigger_paused(trigger_id, paused=paused, now=now, note=note)
        if (watch := self._watches.get(trigger_id)) is not None:
            watch.paused = paused
        log_event(logger, "fs.paused" if paused else "fs.resumed", trigger_id=trigger_id)
        return self._info(spec, note)

    async def pause(self, trigger_id: str, note: str | None = None) -> TriggerInfo:
        """Hold runs of *trigger_id*: changes are still noticed and fire on resume."""
        return await self._set_paused(trigger_id, True, note)

    async def resume(self, trigger_id: str) -> TriggerInfo:
        """Fire what changed while paused, then follow changes again."""
        return await self._set_paused(trigger_id, False, None)

    async def fire(self, trigger_id: str) -> Any:
        """Not supported: an fs trigger fires on file changes (409 ``not_supported``)."""
        self._spec(trigger_id)
        raise StargraphRuntimeError(
            f"fs trigger {trigger_id!r} fires when a file changes; drop a file into its folder "
            "(or POST /v1/runs) to start a run now"
        )
