"""``TriggerHarness``: host one trigger plugin on a real, throw-away SQLite store, in a test.

::

    async with TriggerHarness(MyTrigger(), deps={"my_folder": str(tmp_path)}) as h:
        await h.start()                      # init (once), routes, start: as the host does
        (tmp_path / "a.csv").write_text("1")  # the outside world sends a signal
        runs = await h.wait_for_runs(1)
        assert runs[0].trigger_source == "plugin"

The plugin gets what the runtime gives it: ``deps["scheduler"]`` (the per-plugin view, so runs
are recorded as the plugin's), ``"store"``, ``"clock"``, ``"metrics"`` and its own
``"task_group"``. Every graph id is accepted (runs stay pending: nothing executes them).
Lifecycle calls are bounded by ``timeout`` like the host's, and raise what the trigger raised.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import pluggy
from anyio.abc import TaskGroup, TaskStatus

from stargraph.clock import Clock, SystemClock
from stargraph.errors import StargraphRuntimeError
from stargraph.hosting import PluginTaskGroup
from stargraph.plugin import hookspecs
from stargraph.plugin._adapter import as_plugin, unwrap
from stargraph.plugin._markers import PROJECT
from stargraph.plugin.triggers_dispatcher import acall_hook
from stargraph.scheduler import Graph, GraphRegistry, Scheduler, SchedulerSettings
from stargraph.store import RunStore, open_store
from stargraph.store.base import Run, RunFilter

__all__ = ["AnyGraphs", "TriggerHarness", "plugin_view"]


async def _nothing(params: dict[str, Any], ctx: Any) -> None:
    """The graph behind every id the harness accepts (never executed: nothing claims)."""


class AnyGraphs(GraphRegistry):
    """A registry that accepts every graph id (adding a do-nothing graph on first use)."""

    def get(self, graph_id: str) -> Graph:
        if isinstance(graph_id, str) and graph_id and graph_id not in self.ids():
            self.add(Graph(graph_id=graph_id, fn=_nothing))
        return super().get(graph_id)

    def __contains__(self, graph_id: object) -> bool:
        return isinstance(graph_id, str) and bool(graph_id)


def plugin_view(scheduler: Scheduler, plugin_name: str) -> Any:
    """``deps["scheduler"]`` as the trigger host hands it to the plugin *plugin_name*."""
    try:
        from stargraph.scheduler.facade import scheduler_for_plugin
    except ImportError:  # pragma: no cover - before the per-plugin view existed
        return scheduler
    return scheduler_for_plugin(scheduler, plugin_name)


class TriggerHarness:
    """Host *plugin* (a trigger object or class, or a carrier of ``@hookimpl`` functions).

    *name* is the plugin's name (``"dist:group:name"``); *workdir* holds the store (a temporary
    folder, removed on exit, when not given); *deps* are the config's ``[deps]``.
    """

    def __init__(
        self,
        plugin: object,
        deps: Mapping[str, Any] | None = None,
        *,
        name: str = "harness:stargraph.triggers:plugin",
        workdir: str | Path | None = None,
        graphs: Iterable[Graph] = (),
        clock: Clock | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.name = name
        self.plugin = as_plugin(plugin, name)
        self.user_deps = dict(deps or {})
        self.clock: Clock = clock or SystemClock()
        self.timeout = timeout
        self.crash: BaseException | None = None
        self.start_error: BaseException | None = None
        self._graphs = list(graphs)
        self._workdir = Path(workdir) if workdir is not None else None
        self._own_workdir = workdir is None
        self._stack: AsyncExitStack | None = None
        self._tg: TaskGroup | None = None
        self._scope: anyio.CancelScope | None = None
        self._ended: anyio.Event | None = None
        self._initialized = False
        self._started = False
        self.deps: dict[str, Any] = {}
        self._scheduler: Scheduler | None = None
        self.pm = self._manager(self.plugin)

    def _manager(self, plugin: object) -> pluggy.PluginManager:
        pm = pluggy.PluginManager(PROJECT)
        pm.add_hookspecs(hookspecs)
        pm.register(plugin, name=self.name)
        return pm

    # -- parts ----------------------------------------------------------------------------------

    @property
    def trigger(self) -> object:
        """The trigger object (unwrapped from the loader's adapter)."""
        return unwrap(self.plugin)

    @property
    def workdir(self) -> Path:
        """The folder that holds the store (and anything the test wants to put there)."""
        if self._workdir is None:
            raise StargraphRuntimeError("TriggerHarness.workdir exists only inside `async with`")
        return self._workdir

    @property
    def store(self) -> RunStore:
        """The opened SQLite store."""
        return self._part("store")  # type: ignore[no-any-return]

    @property
    def scheduler(self) -> Scheduler:
        """The running scheduler (``deps["scheduler"]`` is the plugin's view of it)."""
        if self._scheduler is None:
            raise StargraphRuntimeError("use the TriggerHarness inside `async with`")
        return self._scheduler

    @property
    def task_group(self) -> PluginTaskGroup:
        """The plugin's ``deps["task_group"]``."""
        return self._part("task_group")  # type: ignore[no-any-return]

    def _part(self, key: str) -> Any:
        if key not in self.deps:
            raise StargraphRuntimeError("use the TriggerHarness inside `async with`")
        return self.deps[key]

    # -- entering -------------------------------------------------------------------------------

    async def __aenter__(self) -> TriggerHarness:
        if self._own_workdir:
            self._workdir = Path(tempfile.mkdtemp(prefix="stargraph-harness-"))
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            await self._open(stack)
        except BaseException as exc:
            await stack.__aexit__(type(exc), exc, exc.__traceback__)
            self._cleanup()
            raise
        self._stack = stack
        return self

    async def _open(self, stack: AsyncExitStack) -> None:
        store = open_store(f"sqlite:///{self.workdir / 'harness.db'}")
        await store.open()
        stack.push_async_callback(store.close)
        settings = SchedulerSettings(shutdown_grace=0.5, poll_interval=0.2)
        scheduler = Scheduler(
            store, AnyGraphs(self._graphs), settings=settings, clock=self.clock, claim_graphs=()
        )
        await stack.enter_async_context(scheduler)
        self._tg = await stack.enter_async_context(anyio.create_task_group())
        stack.push_async_callback(self._leave)
        self.deps = {
            **self.user_deps,
            "scheduler": plugin_view(scheduler, self.name),
            "store": store,
            "clock": self.clock,
            "metrics": scheduler.metrics,
            "task_group": PluginTaskGroup(self.name),
        }
        self._scheduler = scheduler

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._stack is not None
        try:
            if exc is not None and not isinstance(exc, Exception):  # cancellation and the like
                return await self._stack.__aexit__(exc_type, exc, tb)
            # The test's own failure propagates as is, not wrapped in an exception group.
            await self._stack.__aexit__(None, None, None)
            return None
        finally:
            self._cleanup()

    async def _leave(self) -> None:
        with anyio.CancelScope(shield=True):
            if self._started:
                with anyio.move_on_after(self.timeout):
                    await self.stop()

    def _cleanup(self) -> None:
        if self._own_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)

    # -- lifecycle ------------------------------------------------------------------------------

    def plugin_deps(self) -> dict[str, Any]:
        """The deps the plugin receives (a copy)."""
        return dict(self.deps)

    async def call(self, hook: str, deps: Mapping[str, Any] | None = None) -> Any:
        """Call one lifecycle hook, bounded by ``timeout``; return its result or raise its error.

        A timeout raises :class:`TimeoutError`.
        """
        kwargs = {} if hook == "trigger_routes" else {"deps": dict(deps or self.plugin_deps())}
        result = await acall_hook(self.pm, self.name, self.plugin, hook, kwargs, self.timeout)
        if result is None:
            return None
        if not result.success:
            assert result.error is not None
            raise result.error
        return result.result

    async def init(self, deps: Mapping[str, Any] | None = None) -> None:
        """Call ``init(deps)`` (the harness's deps unless *deps* is given)."""
        await self.call("trigger_init", deps)
        self._initialized = deps is None

    async def routes(self) -> list[Any]:
        """Call ``routes()``; ``None`` counts as no routes."""
        found = await self.call("trigger_routes")
        return [] if found is None else list(found)

    async def start(self) -> None:
        """Call ``init`` (first time only), then ``start()`` in a fresh plugin task group.

        Raises what ``start()`` raised (or TimeoutError); call :meth:`stop` after that too.
        """
        if self._started:
            raise StargraphRuntimeError("the trigger is already started; stop() it first")
        if not self._initialized:
            await self.init()
        assert self._tg is not None
        self.crash = self.start_error = None
        self._ended = anyio.Event()
        self._scope = await self._tg.start(self._incarnation)
        self._started = True
        if self.start_error is not None:
            raise self.start_error

    async def _incarnation(self, *, task_status: TaskStatus[anyio.CancelScope]) -> None:
        assert self._ended is not None
        ended = self._ended
        try:
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:
                    self.task_group.bind(tg)
                    try:
                        await self.call("trigger_start")
                    except Exception as exc:
                        self.start_error = exc
                        scope.cancel()
                        task_status.started(scope)
                        return
                    task_status.started(scope)
                    await anyio.sleep_forever()
        except Exception as exc:  # a crash in the plugin's task group ends this run only
            self.crash = exc
        finally:
            self.task_group.bind(None)
            ended.set()

    @property
    def running(self) -> bool:
        """True from a successful start until the plugin's task group ended."""
        return self._ended is not None and not self._ended.is_set()

    async def cancel(self) -> bool:
        """Cancel the plugin's task group (as the host does first); True once it ended."""
        if self._ended is None or self._ended.is_set():
            return True
        self.task_group.cancel_scope.cancel()
        with anyio.move_on_after(self.timeout):
            await self._ended.wait()
        return self._ended.is_set()

    async def stop(self) -> None:
        """Cancel the plugin's task group, then call ``stop()`` (shielded, bounded)."""
        if not self._started:
            return
        self._started = False
        if self._scope is not None:
            self._scope.cancel()
        if self._ended is not None:
            with anyio.move_on_after(self.timeout):
                await self._ended.wait()
        with anyio.CancelScope(shield=True):
            await self.call("trigger_stop")

    async def restart(self) -> None:
        """What the supervisor does after a crash: stop, then ``start()`` again (no init)."""
        await self.stop()
        await self.start()

    async def replace(self, plugin: object) -> None:
        """Host a new instance instead (a process restart): it is initialised on next start."""
        await self.stop()
        self.plugin = as_plugin(plugin, self.name)
        self.pm = self._manager(self.plugin)
        self._initialized = False

    async def app(self) -> Any:
        """A Stargraph app (Quart, or QuartTrio on trio) with the trigger's routes mounted;
        ``app.test_client()`` sends it requests, as a webhook sender would."""
        import sniffio

        from stargraph.serve.app import create_app

        app = create_app("trio" if sniffio.current_async_library() == "trio" else "asyncio")
        for bp in await self.routes():
            app.register_blueprint(bp)
        return app

    # -- runs -----------------------------------------------------------------------------------

    async def runs(self) -> list[Run]:
        """Every run in the store, oldest first."""
        out: list[Run] = []
        cursor: str | None = None
        while True:
            page = await self.store.list_runs(RunFilter(), limit=500, cursor=cursor)
            out.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return out[::-1]

    async def wait_for_runs(self, count: int, *, timeout: float = 10.0) -> list[Run]:
        """Wait until at least *count* runs are stored; raise TimeoutError after *timeout*."""
        with anyio.fail_after(timeout):
            while len(found := await self.runs()) < count:
                await anyio.sleep(0.02)
        return found

    async def quiet(self, period: float = 0.3, *, timeout: float = 10.0) -> list[Run]:
        """Wait until no new run has been stored for *period* seconds; return all runs."""
        with anyio.fail_after(timeout):
            found = await self.runs()
            while True:
                await anyio.sleep(period)
                again = await self.runs()
                if len(again) == len(found):
                    return again
                found = again
