"""The parsed configuration: frozen values that hold the domain objects they describe.

``[scheduler]`` is a :class:`~stargraph.scheduler.SchedulerSettings` and each
``[graphs.<id>]`` holds a :class:`~stargraph.scheduler.RunPolicy`; ``[[cron]]`` and
``[[webhook]]`` entries are the trigger specs. Only what has no domain class (store, serve,
plugins) is declared here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from stargraph._imports import load_object
from stargraph.errors import ConfigError
from stargraph.scheduler import Graph, RunPolicy, SchedulerSettings
from stargraph.triggers.cron.interval import IntervalSpec
from stargraph.triggers.cron.spec import CronSpec
from stargraph.triggers.fs.spec import FsSpec
from stargraph.triggers.queue.spec import QueueSpec
from stargraph.triggers.webhook.spec import WebhookSpec

__all__ = [
    "DEFAULT_TOKEN_ENV",
    "GraphConfig",
    "PluginsConfig",
    "ServeConfig",
    "StargraphConfig",
    "StoreConfig",
]

DEFAULT_TOKEN_ENV = "STARGRAPH_API_TOKEN"


@attrs.frozen(kw_only=True)
class StoreConfig:
    """``[store]``: where runs live."""

    url: str = "sqlite:///stargraph.db"


@attrs.frozen(kw_only=True)
class ServeConfig:
    """``[serve]``: the HTTP server. ``api_token`` is read from ``api_token_env``."""

    bind: str = "127.0.0.1:8080"
    backend: str = "asyncio"
    graceful_timeout: float = 10.0
    api_token_env: str | None = None
    api_token: str | None = attrs.field(default=None, repr=False)
    allow_insecure_bind: bool = False


@attrs.frozen(kw_only=True)
class GraphConfig:
    """``[graphs.<graph_id>]``: a ``module:callable`` target and its run policy."""

    graph_id: str
    target: str
    policy: RunPolicy = attrs.field(factory=RunPolicy)

    def load(self, source: str) -> Graph:
        """Import the target as a :class:`Graph`; errors start with *source* (the file)."""
        where = f"{source}: graphs.{self.graph_id}.target"
        obj = load_object(self.target, where)
        if isinstance(obj, Graph):
            return attrs.evolve(obj, graph_id=self.graph_id, policy=self.policy)
        if not callable(obj):
            raise ConfigError(f"{where}: {self.target!r} is a {type(obj).__name__}, not a callable")
        return Graph(graph_id=self.graph_id, fn=obj, policy=self.policy)


@attrs.frozen(kw_only=True)
class PluginsConfig:
    """``[plugins]``: registered plugin names to leave out."""

    disable: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class StargraphConfig:
    """One whole configuration; ``path`` is the file it came from (``None`` for defaults).

    ``scheduler.shutdown_grace`` is ``serve.graceful_timeout`` (the loader sets it).
    """

    path: Path | None = None
    store: StoreConfig = StoreConfig()
    serve: ServeConfig = ServeConfig()
    scheduler: SchedulerSettings = attrs.field(factory=SchedulerSettings)
    graphs: tuple[GraphConfig, ...] = ()
    cron: tuple[CronSpec, ...] = ()
    interval: tuple[IntervalSpec, ...] = ()
    webhook: tuple[WebhookSpec, ...] = ()
    fs: tuple[FsSpec, ...] = ()
    queue: tuple[QueueSpec, ...] = ()
    plugins: PluginsConfig = PluginsConfig()
    deps: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def folder(self) -> Path:
        """The folder graph targets are imported from (the config's, or the cwd)."""
        return self.path.parent if self.path else Path.cwd()

    @property
    def source(self) -> str:
        """The file name errors start with (``<config>`` for the defaults)."""
        return str(self.path or "<config>")

    def scheduler_settings(self) -> SchedulerSettings:
        """Return the scheduler's settings (``[scheduler]``; the drain grace from ``[serve]``)."""
        return self.scheduler

    def runtime_deps(self) -> dict[str, Any]:
        """Return ``[deps]`` plus the ``cron_specs``, ``interval_specs``, ``webhook_specs``,
        ``fs_specs`` and ``queue_specs`` lists."""
        return dict(
            self.deps,
            cron_specs=list(self.cron),
            interval_specs=list(self.interval),
            webhook_specs=list(self.webhook),
            fs_specs=list(self.fs),
            queue_specs=list(self.queue),
        )

    def load_graphs(self) -> list[Graph]:
        """Import every graph target with the config's folder first on ``sys.path``."""
        folder = str(self.folder)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        return [g.load(self.source) for g in self.graphs]

    def check_trigger_graphs(self, known: Iterable[str]) -> None:
        """Raise :class:`ConfigError` for a cron, webhook or queue entry of an unknown graph."""
        ids = sorted(known)
        entries = [("cron", i, s.graph_id) for i, s in enumerate(self.cron)]
        entries += [("interval", i, s.graph_id) for i, s in enumerate(self.interval)]
        entries += [("webhook", i, s.graph_id) for i, s in enumerate(self.webhook)]
        entries += [("fs", i, s.graph_id) for i, s in enumerate(self.fs)]
        entries += [("queue", i, s.graph_id) for i, s in enumerate(self.queue)]
        for section, index, graph_id in entries:
            if graph_id not in ids:
                raise ConfigError(
                    f"{self.source}: {section}[{index}].graph_id: unknown graph {graph_id!r}; "
                    f"add a [graphs.{graph_id}] table (known: {', '.join(ids) or 'none'})"
                )
