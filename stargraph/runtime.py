"""The composition root: store + scheduler + graphs + trigger plugins, in one ``async with``.

::

    async with Runtime("sqlite:///stargraph.db", graphs=[Graph(graph_id="hello", fn=hello)]) as rt:
        out = await rt.scheduler.submit("hello", {"name": "world"})

Entering opens the store, starts the scheduler (writer, dispatcher, lease and pruning loops) in
the runtime's own task group, builds the shared deps and enters the
:class:`~stargraph.hosting.TriggerHost` (init, routes, start). Leaving stops the triggers, then
drains the scheduler (``shutdown_grace``), then closes the store. It runs inside any asyncio or
trio program: ``async with`` in a task, or ``await task_group.start(runtime.run)``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, Self, TypeVar

import anyio
import pluggy
from anyio import AsyncContextManagerMixin

from stargraph._log import log_event
from stargraph.clock import Clock, SystemClock
from stargraph.errors import ConfigError, StargraphRuntimeError
from stargraph.hosting import HostOptions, TriggerHost
from stargraph.lifecycle import LifecycleState
from stargraph.metrics import Metrics
from stargraph.scheduler import Graph, GraphRegistry, Scheduler, SchedulerSettings
from stargraph.store import RunStore, open_store

if TYPE_CHECKING:
    from stargraph.config import StargraphConfig

__all__ = ["RESERVED_DEPS", "Runtime"]

logger = logging.getLogger("stargraph.scheduler")

RESERVED_DEPS = frozenset({"scheduler", "store", "clock", "metrics", "task_group"})
_STORE_CLOSE_BOUND = 10.0
T = TypeVar("T")


class Runtime(AsyncContextManagerMixin):
    """Store, scheduler and hosted triggers with one lifetime. Single use: enter it once."""

    def __init__(
        self,
        store_url: str = "sqlite:///stargraph.db",
        *,
        graphs: GraphRegistry | Iterable[Graph] = (),
        settings: SchedulerSettings | None = None,
        deps: Mapping[str, Any] | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
        disable_plugins: Sequence[str] = (),
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        host_options: HostOptions | None = None,
        graph_entry_points: bool = True,
    ) -> None:
        clash = sorted(RESERVED_DEPS.intersection(deps or {}))
        if clash:
            raise ConfigError(
                f"deps key(s) {', '.join(map(repr, clash))} are reserved for the runtime; rename "
                "them in [deps] (pass clock=/metrics= to Runtime to replace those)"
            )
        self.store_url = store_url
        self.graphs = graphs if isinstance(graphs, GraphRegistry) else GraphRegistry(graphs)
        self.settings = settings or SchedulerSettings()
        self.clock: Clock = clock or SystemClock()
        self.metrics = metrics or Metrics()
        self.host_options = host_options
        self._user_deps = dict(deps or {})
        self._pm = plugin_manager
        self._disable = tuple(disable_plugins)
        self._graph_entry_points = graph_entry_points
        self._store: RunStore | None = None
        self._scheduler: Scheduler | None = None
        self._host: TriggerHost | None = None
        self._state = LifecycleState.new
        self.deps: dict[str, Any] = {}

    @classmethod
    def from_config(cls, cfg: StargraphConfig) -> Runtime:
        """Return the runtime (not yet entered) that *cfg* describes.

        Imports the graph targets, adds the ``stargraph.graphs`` entry points, and checks that
        every ``[[cron]]`` and ``[[webhook]]`` entry names a known graph (``ConfigError``).
        """
        registry = GraphRegistry(cfg.load_graphs())
        registry.load_entry_points()
        cfg.check_trigger_graphs(registry.ids())
        return cls(
            cfg.store.url,
            graphs=registry,
            settings=cfg.scheduler_settings(),
            deps=cfg.runtime_deps(),
            disable_plugins=cfg.plugins.disable,
            graph_entry_points=False,
        )

    # -- parts (available once entered) ------------------------------------------------------

    @property
    def store(self) -> RunStore:
        """The opened run store."""
        return self._require(self._store, "store")

    @property
    def scheduler(self) -> Scheduler:
        """The running scheduler (``deps["scheduler"]`` of every trigger)."""
        return self._require(self._scheduler, "scheduler")

    @property
    def host(self) -> TriggerHost:
        """The trigger host (plugin statuses, trigger objects)."""
        return self._require(self._host, "host")

    @property
    def routes(self) -> list[Any]:
        """Quart Blueprints the triggers returned from ``routes()`` (mount them in the app)."""
        return list(self.host.routes)

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """The plugin manager whose trigger plugins are hosted."""
        return self._require(self._pm, "plugin manager")

    @property
    def ready(self) -> bool:
        """True while the store is open, the scheduler runs and the triggers were started."""
        return (
            self._state is LifecycleState.running
            and self._scheduler is not None
            and self._scheduler.running
        )

    async def probe(self) -> bool:
        """Readiness with a live store round trip (for ``/readyz``)."""
        if not self.ready:
            return False
        try:
            await self.store.ping()
        except Exception:
            return False
        return True

    def _require(self, part: T | None, name: str) -> T:
        if part is None:
            raise StargraphRuntimeError(
                f"Runtime {name} is not available: the runtime is {self._state}; use it inside "
                "`async with Runtime(...) as rt:`"
            )
        return part

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def state(self) -> LifecycleState:
        """Where the runtime stands in its single-use lifecycle."""
        return self._state

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncGenerator[Self, None]:
        """Open the parts in order on an exit stack; leaving (or a failed start) closes them
        in reverse: triggers, then the scheduler's drain, then the store."""
        if self._state is not LifecycleState.new:
            raise StargraphRuntimeError("A Runtime starts only once; create a new one")
        self._state = LifecycleState.starting
        started = False
        try:
            if self._graph_entry_points:
                self.graphs.load_entry_points()
            async with AsyncExitStack() as stack:
                try:
                    await self._start(stack)
                    self._state = LifecycleState.running
                    started = True
                    log_event(
                        logger,
                        "runtime.started",
                        store=self.store.url.split("://")[0],
                        graphs=len(self.graphs),
                        plugins=len(self.host.triggers()),
                    )
                    yield self
                finally:
                    self._state = LifecycleState.stopping
        finally:
            self._state = LifecycleState.stopped
            if started:
                log_event(logger, "runtime.stopped")

    async def _start(self, stack: AsyncExitStack) -> None:
        store = open_store(self.store_url)
        await store.open()
        self._store = store
        stack.push_async_callback(self._close_store, store)
        scheduler = Scheduler(
            store, self.graphs, settings=self.settings, clock=self.clock, metrics=self.metrics
        )
        self._scheduler = await stack.enter_async_context(scheduler)
        self.deps = {
            **self._user_deps,
            "scheduler": scheduler,
            "store": store,
            "clock": self.clock,
            "metrics": self.metrics,
        }
        if self._pm is None:
            from stargraph.plugin.loader import build_plugin_manager

            self._pm = build_plugin_manager(disable=self._disable)
        host = TriggerHost(self._pm, self.deps, options=self.host_options)
        self._host = await stack.enter_async_context(host)

    @staticmethod
    async def _close_store(store: RunStore) -> None:
        with anyio.move_on_after(_STORE_CLOSE_BOUND, shield=True):
            await store.close()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[Runtime] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until cancelled; ``rt = await task_group.start(runtime.run)`` gives the runtime."""
        async with self:
            task_status.started(self)
            await anyio.sleep_forever()
