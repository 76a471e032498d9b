"""``WebhookTrigger``: the bundled plugin that mounts one signed POST route per spec."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NoReturn

import anyio
from quart import Blueprint

from stargraph._log import log_event
from stargraph.clock import Clock, SystemClock
from stargraph.errors import ConfigError, StargraphRuntimeError, StoreError, TriggerNotFound
from stargraph.metrics import Metrics
from stargraph.store.base import RunFilter
from stargraph.triggers import Enqueuer
from stargraph.triggers.control import TriggerInfo
from stargraph.triggers.webhook.deadlines import BodyDeadlines
from stargraph.triggers.webhook.params import load_extractor
from stargraph.triggers.webhook.routes import Endpoint, build_blueprint
from stargraph.triggers.webhook.schemes import secret_key
from stargraph.triggers.webhook.spec import PARAMS_MODES, WebhookSpec

__all__ = ["WebhookTrigger"]

logger = logging.getLogger("stargraph.triggers.webhook")
REFRESH_SECONDS = 5.0


def _as_spec(item: object) -> WebhookSpec:
    if isinstance(item, WebhookSpec):
        return item
    if isinstance(item, Mapping):
        return WebhookSpec(**item)
    raise ConfigError(f"deps['webhook_specs'] items must be WebhookSpec, got {type(item).__name__}")


def _endpoint(spec: WebhookSpec) -> Endpoint:
    extractor = (
        None if spec.params in PARAMS_MODES else load_extractor(spec.params, spec.trigger_id)
    )
    keys = tuple(secret_key(spec.scheme, s) for s in spec.secrets)
    return Endpoint(spec=spec, keys=keys, extractor=extractor)


def _check_unique(specs: list[WebhookSpec]) -> None:
    ids: set[str] = set()
    paths: dict[str, str] = {}
    for spec in specs:
        if spec.trigger_id in ids:
            raise ConfigError(f"webhook {spec.trigger_id!r}: trigger_id is used twice")
        if spec.path in paths:
            raise ConfigError(
                f"webhook {spec.trigger_id!r}: path {spec.path!r} is already used "
                f"by webhook {paths[spec.path]!r}"
            )
        ids.add(spec.trigger_id)
        paths[spec.path] = spec.trigger_id


class WebhookTrigger:
    """Verified, replay-proof, durable webhook deliveries (``deps["webhook_specs"]``).

    With no specs configured it is a silent no-op with no routes.
    """

    def __init__(self) -> None:
        self._endpoints: dict[str, Endpoint] = {}
        self._paused: dict[str, tuple[bool, str | None]] = {}
        self._last: dict[str, datetime] = {}
        self._scheduler: Enqueuer | None = None
        self._store: Any = None
        self._clock: Clock = SystemClock()
        self._metrics: Metrics | None = None
        self._task_group: Any = None
        self._deadlines = BodyDeadlines()

    # -- what the routes read ------------------------------------------------------------------

    @property
    def scheduler(self) -> Enqueuer:
        if self._scheduler is None:
            raise StargraphRuntimeError("WebhookTrigger requires init(deps) with deps['scheduler']")
        return self._scheduler

    @property
    def store(self) -> Any:
        return self._store

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def metrics(self) -> Metrics | None:
        return self._metrics

    @property
    def deadlines(self) -> BodyDeadlines | None:
        return self._deadlines

    def is_paused(self, trigger_id: str) -> bool:
        return self._paused.get(trigger_id, (False, None))[0]

    def accepted(self, trigger_id: str, when: datetime) -> None:
        self._last[trigger_id] = when

    # -- Trigger ---------------------------------------------------------------------------------

    def init(self, deps: dict[str, Any]) -> None:
        """Validate the specs against the registered graphs and prepare the endpoints."""
        specs = [_as_spec(item) for item in deps.get("webhook_specs") or ()]
        self._endpoints = {}
        if not specs:
            return
        scheduler: Enqueuer | None = deps.get("scheduler")
        if scheduler is None:
            raise StargraphRuntimeError("WebhookTrigger requires deps['scheduler']")
        _check_unique(specs)
        for spec in specs:
            if spec.graph_id not in scheduler.graphs:
                known = ", ".join(sorted(scheduler.graphs.ids())) or "none"
                raise ConfigError(
                    f"webhook {spec.trigger_id!r}: graph_id {spec.graph_id!r} is "
                    f"not registered (registered graphs: {known})"
                )
        self._endpoints = {spec.trigger_id: _endpoint(spec) for spec in specs}
        self._scheduler = scheduler
        self._store = deps.get("store") or scheduler.store
        self._clock = deps.get("clock") or getattr(scheduler, "clock", None) or SystemClock()
        self._metrics = deps.get("metrics") or getattr(scheduler, "metrics", None)
        self._task_group = deps.get("task_group")

    async def start(self) -> None:
        """Load persisted pause flags; keep them fresh (other nodes may pause a trigger)."""
        if not self._endpoints:
            return
        await self._refresh()
        await self._load_last_accepted()
        if self._task_group is not None:
            self._task_group.start_soon(self._deadlines.run, name="stargraph.webhook:deadlines")
            self._task_group.start_soon(self._refresh_loop, name="stargraph.webhook:refresh")

    def stop(self) -> None:
        """Nothing to release: the host cancels the refresh loop's task group."""

    def routes(self) -> list[Blueprint]:
        """Return one Blueprint with a POST route per spec (none when nothing is configured)."""
        if not self._endpoints:
            return []
        return [build_blueprint(self, list(self._endpoints.values()))]

    async def _load_last_accepted(self) -> None:
        """The last accepted delivery survives a restart: it is the newest run of the id."""
        for trigger_id in self._endpoints:
            page = await self._store.list_runs(
                RunFilter(trigger_id=trigger_id), limit=1, cursor=None
            )
            if page.items and trigger_id not in self._last:
                self._last[trigger_id] = page.items[0].enqueued_at

    async def _refresh(self) -> None:
        states = await self._store.list_trigger_states()
        for state in states:
            if state.trigger_id in self._endpoints:
                self._paused[state.trigger_id] = (state.paused, state.note)

    async def _refresh_loop(self) -> NoReturn:
        """Re-read pause flags other nodes stored, every ``REFRESH_SECONDS``.

        Error policy: a store error is logged (``webhook.refresh_failed``) and retried next tick.
        """
        while True:
            await anyio.sleep(REFRESH_SECONDS)
            try:
                await self._refresh()
            except StoreError as exc:
                log_event(
                    logger, "webhook.refresh_failed", logging.WARNING, error=type(exc).__name__
                )

    # -- ControllableTrigger ---------------------------------------------------------------------

    def trigger_ids(self) -> list[str]:
        """Return the trigger ids of every configured webhook."""
        return list(self._endpoints)

    def _info(self, trigger_id: str) -> TriggerInfo:
        spec = self._endpoints[trigger_id].spec
        paused, note = self._paused.get(trigger_id, (False, None))
        return TriggerInfo(
            trigger_id=trigger_id,
            kind="webhook",
            graph_id=spec.graph_id,
            paused=paused,
            note=note,
            last_fire=self._last.get(trigger_id),
            details={
                "path": spec.path,
                "scheme": str(spec.scheme),
                "rejections": self._rejections(trigger_id),
            },
        )

    def _rejections(self, trigger_id: str) -> dict[str, int]:
        """Deliveries this process rejected, by code (read from the metrics counter)."""
        if self._metrics is None:
            return {}
        out: dict[str, int] = {}
        for family in self._metrics.webhook_rejections.collect():
            for sample in family.samples:
                labels = sample.labels
                if sample.name.endswith("_total") and labels.get("trigger_id") == trigger_id:
                    out[labels["reason"]] = int(sample.value)
        return out

    def _require(self, trigger_id: str) -> None:
        if trigger_id not in self._endpoints:
            raise TriggerNotFound(trigger_id)

    async def describe(self) -> list[TriggerInfo]:
        """Return each webhook's id, graph, pause state and last accepted delivery."""
        return [self._info(tid) for tid in self._endpoints]

    async def pause(self, trigger_id: str, note: str | None = None) -> TriggerInfo:
        """Pause *trigger_id*: its route answers 503 ``trigger_paused`` until resumed."""
        return await self._set_paused(trigger_id, True, note)

    async def resume(self, trigger_id: str) -> TriggerInfo:
        """Resume *trigger_id*: deliveries are accepted again."""
        return await self._set_paused(trigger_id, False, None)

    async def _set_paused(self, trigger_id: str, paused: bool, note: str | None) -> TriggerInfo:
        self._require(trigger_id)
        state = await self._store.set_trigger_paused(
            trigger_id, paused=paused, now=self._clock.now(), note=note
        )
        self._paused[trigger_id] = (state.paused, state.note)
        log_event(logger, "trigger.paused" if paused else "trigger.resumed", trigger_id=trigger_id)
        return self._info(trigger_id)

    async def fire(self, trigger_id: str) -> Any:
        """Always raises: a webhook runs only when a signed delivery arrives."""
        self._require(trigger_id)
        path = self._endpoints[trigger_id].spec.path
        raise StargraphRuntimeError(
            f"webhook {trigger_id!r} cannot fire without a delivery; "
            f"POST a signed request to {path}"
        )
