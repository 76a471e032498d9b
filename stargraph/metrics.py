"""Prometheus metrics, one registry per runtime (so several runtimes can share a process)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from stargraph.store.base import RunStatus

if TYPE_CHECKING:
    from stargraph.hosting import PluginState  # the hosting package imports this module

__all__ = ["Metrics"]

_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0, 60.0)


@attrs.define(eq=False)
class Metrics:
    """Every metric Stargraph exports; call :meth:`render` for the Prometheus text format."""

    registry: CollectorRegistry = attrs.field(factory=lambda: CollectorRegistry(auto_describe=True))
    runs_enqueued: Counter = attrs.field(init=False)
    runs_deduplicated: Counter = attrs.field(init=False)
    runs_finished: Counter = attrs.field(init=False)
    runs_interrupted: Counter = attrs.field(init=False)
    run_duration: Histogram = attrs.field(init=False)
    queue_depth: Gauge = attrs.field(init=False)
    trigger_state: Gauge = attrs.field(init=False)
    webhook_rejections: Counter = attrs.field(init=False)
    cron_fire_lag: Histogram = attrs.field(init=False)
    cron_fires_skipped: Counter = attrs.field(init=False)
    trigger_fires_skipped: Counter = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        reg = self.registry
        self.runs_enqueued = Counter(
            "stargraph_runs_enqueued",
            "Runs newly enqueued",
            ["graph_id", "trigger_source"],
            registry=reg,
        )
        self.runs_deduplicated = Counter(
            "stargraph_runs_deduplicated",
            "Enqueues deduplicated onto an existing run",
            ["graph_id", "trigger_source"],
            registry=reg,
        )
        self.runs_finished = Counter(
            "stargraph_runs_finished",
            "Runs that reached a terminal status",
            ["graph_id", "trigger_source", "status"],
            registry=reg,
        )
        self.runs_interrupted = Counter(
            "stargraph_runs_interrupted",
            "Runs whose process died or stalled mid-run (lease expired), requeued or failed",
            ["graph_id"],
            registry=reg,
        )
        self.run_duration = Histogram(
            "stargraph_run_duration_seconds",
            "Run duration from start to end",
            ["graph_id"],
            registry=reg,
        )
        self.queue_depth = Gauge(
            "stargraph_queue_depth", "Runs in the store by status", ["status"], registry=reg
        )
        self.trigger_state = Gauge(
            "stargraph_trigger_state",
            "1 for the current state of each hosted trigger plugin",
            ["plugin", "state"],
            registry=reg,
        )
        self.webhook_rejections = Counter(
            "stargraph_webhook_rejections",
            "Webhook deliveries refused",
            ["trigger_id", "reason"],
            registry=reg,
        )
        self.cron_fire_lag = Histogram(
            "stargraph_cron_fire_lag_seconds",
            "Planned fire instant to committed run",
            ["trigger_id"],
            buckets=_LAG_BUCKETS,
            registry=reg,
        )
        self.cron_fires_skipped = Counter(
            "stargraph_cron_fires_skipped",
            "Planned fires not run (missed-fire policy or window)",
            ["trigger_id"],
            registry=reg,
        )
        self.trigger_fires_skipped = Counter(
            "stargraph_trigger_fires_skipped",
            "Due fires of cron and interval triggers not enqueued, by reason (overlap)",
            ["trigger_id", "reason"],
            registry=reg,
        )

    def set_trigger_state(self, plugin: str, state: PluginState) -> None:
        """The one writer of ``stargraph_trigger_state``: 1 for *state*, 0 for every other."""
        for each in type(state):  # every PluginState, so a stale 1 can never remain
            value = 1.0 if each is state else 0.0
            self.trigger_state.labels(plugin=plugin, state=each.value).set(value)

    def set_queue_depth(self, counts: Mapping[RunStatus, int]) -> None:
        """The one writer of ``stargraph_queue_depth``: *counts* per status, 0 where absent."""
        for status in RunStatus:
            self.queue_depth.labels(status=status.value).set(counts.get(status, 0))

    def render(self) -> bytes:
        """Return the registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)
