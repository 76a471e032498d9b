"""Runtime: store + scheduler + hosted triggers in one ``async with``, on asyncio and trio."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pluggy
import pytest
from _settings import settings

from stargraph.errors import ConfigError, StargraphRuntimeError, StoreError
from stargraph.hosting import HostOptions, PluginState
from stargraph.lifecycle import LifecycleState
from stargraph.plugin import TriggerAdapter, hookspecs
from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, RunContext
from stargraph.scheduler.facade import PluginScheduler
from stargraph.store import RunFilter, RunStatus

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fswatch"
FAST = settings(lease_seconds=30.0, heartbeat_interval=None)
HOST = HostOptions(start_timeout=2, stop_timeout=2, max_restarts=0)


async def echo(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"params": params, "source": ctx.trigger_source}


class TickTrigger:
    """An anyio-native trigger: enqueues ``ticks`` keyed runs from its own task group."""

    def __init__(self, ticks: int) -> None:
        self.ticks = ticks
        self.deps: dict[str, Any] = {}
        self.stopped = False

    def init(self, deps: dict[str, Any]) -> None:
        self.deps = deps

    def start(self) -> None:
        self.deps["task_group"].start_soon(self._loop)

    async def _loop(self) -> None:
        scheduler = self.deps["scheduler"]
        for i in range(self.ticks):
            scheduler.enqueue(
                graph_id="echo",
                params={"tick": i},
                idempotency_key=f"tick-{i}",
                trigger_id="tick",
                trigger_source="plugin",
            )
            await anyio.sleep(0)
        await anyio.sleep_forever()

    def stop(self) -> None:
        self.stopped = True

    def routes(self) -> list[Any]:
        return []


def manager(**plugins: Any) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("stargraph")
    pm.add_hookspecs(hookspecs)
    for name, plugin in plugins.items():
        pm.register(TriggerAdapter(plugin), name=name)
    return pm


async def _wait_runs(rt: Runtime, count: int, **flt: Any) -> list[Any]:
    with anyio.fail_after(10):
        while True:
            page = await rt.store.list_runs(RunFilter(**flt), limit=1000, cursor=None)
            done = [r for r in page.items if r.finished]
            if len(done) >= count:
                return done
            await anyio.sleep(0.02)


async def test_runtime_hosts_triggers_that_make_real_runs(sqlite_url: str) -> None:
    tick = TickTrigger(ticks=5)
    rt = Runtime(
        sqlite_url,
        graphs=[Graph(graph_id="echo", fn=echo)],
        settings=FAST,
        deps={"greeting": "hi"},
        plugin_manager=manager(tick=tick),
        host_options=HOST,
    )
    with pytest.raises(StargraphRuntimeError, match="inside `async with Runtime"):
        _ = rt.scheduler
    async with rt:
        assert rt.ready and await rt.probe()
        runs = await _wait_runs(rt, 5, trigger_id="tick")
        assert {r.status for r in runs} == {RunStatus.succeeded}
        assert sorted(r.result["params"]["tick"] for r in runs) == [0, 1, 2, 3, 4]
        assert {r.trigger_source for r in runs} == {"plugin"}
        statuses = {s.name: s.state for s in rt.host.statuses()}
        assert statuses == {"tick": PluginState.running}
        assert rt.host.triggers() == [("tick", tick)]
    assert not rt.ready
    assert tick.stopped
    deps = tick.deps
    # the plugin's own view of the runtime's scheduler (its runs are recorded as "plugin")
    assert isinstance(deps["scheduler"], PluginScheduler) and deps["scheduler"].trigger_id == "tick"
    assert deps["scheduler"].scheduler is rt.scheduler and deps["store"] is rt.store
    assert deps["clock"] is rt.clock and deps["metrics"] is rt.metrics
    assert deps["greeting"] == "hi" and "task_group" in deps
    assert b"stargraph_runs_finished" in rt.metrics.render()


async def test_runtime_with_bundled_plugins_only(sqlite_url: str) -> None:
    async with Runtime(
        sqlite_url, graphs=[Graph(graph_id="echo", fn=echo)], settings=FAST, host_options=HOST
    ) as rt:
        names = {s.name: s.state for s in rt.host.statuses()}
        for bundled in ("manual", "cron", "webhook"):
            suffix = f"stargraph.triggers:{bundled}"
            (state,) = [st for n, st in names.items() if n.endswith(suffix)]
            assert state is PluginState.running
        with anyio.fail_after(5):
            out = await rt.scheduler.submit("echo", {"x": 1})
            run = await rt.scheduler.wait_run(out.run_id)
        assert run.result == {"params": {"x": 1}, "source": "manual"}
    with pytest.raises(StargraphRuntimeError):
        rt.scheduler.enqueue("echo")


async def test_runtime_started_with_task_group_start(sqlite_url: str) -> None:
    runtime = Runtime(
        sqlite_url,
        graphs=[Graph(graph_id="echo", fn=echo)],
        settings=FAST,
        plugin_manager=manager(),
        host_options=HOST,
    )
    async with anyio.create_task_group() as tg:
        rt = await tg.start(runtime.run)
        assert rt is runtime and rt.ready
        with anyio.fail_after(5):
            out = await rt.scheduler.submit("echo")
            await rt.scheduler.wait_run(out.run_id)
        tg.cancel_scope.cancel()
    assert not runtime.ready


async def test_states_and_a_failed_start_unwinds_what_started(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Runtime(sqlite_url, settings=FAST, plugin_manager=manager(), host_options=HOST)
    assert runtime.state is LifecycleState.new
    async with runtime:
        assert runtime.state is LifecycleState.running
        assert runtime.host.state is LifecycleState.running
    assert runtime.state is LifecycleState.stopped and not runtime.ready
    with pytest.raises(StargraphRuntimeError, match="only once"):
        async with runtime:
            pass

    class Boom(Exception):
        pass

    def broken_host(*args: Any, **kwargs: Any) -> Any:
        raise Boom("the host could not be built")

    monkeypatch.setattr("stargraph.runtime.TriggerHost", broken_host)
    failed = Runtime(sqlite_url, settings=FAST, plugin_manager=manager(), host_options=HOST)
    with pytest.raises(Boom, match="could not be built"):
        async with failed:
            raise AssertionError("the body must not run after a failed start")
    assert failed.state is LifecycleState.stopped
    assert failed.scheduler.state is LifecycleState.stopped  # drained and stopped on unwind
    names = {t.name for t in anyio.get_running_tasks()}
    assert not [n for n in names if n.startswith("stargraph.scheduler:")]
    with pytest.raises(StoreError, match="is not open"):  # closed on unwind too
        await failed.store.ping()


def test_reserved_deps_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"'scheduler'.*reserved"):
        Runtime("sqlite:///unused.db", deps={"scheduler": object()})


# -- the seed's fswatch example, installed for real -----------------------------------------


@pytest.fixture(scope="session")
def fswatch_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install examples/fswatch`` into a private folder (never into the shared venv)."""
    if not EXAMPLE.exists():
        pytest.skip("examples/fswatch is not there yet")
    work = tmp_path_factory.mktemp("fswatch-runtime")
    source = shutil.copytree(EXAMPLE, work / "fswatch")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "--target",
            str(work / "site"),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    return work / "site"


@pytest.fixture
def fswatch_installed(fswatch_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(fswatch_site))
    yield
    for name in [m for m in sys.modules if m.split(".")[0] == "my_triggers"]:
        del sys.modules[name]


def ingest(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    path = Path(params["path"])
    return {"name": path.name, "size": len(path.read_bytes())}


@pytest.mark.slow
@pytest.mark.usefixtures("fswatch_installed")
async def test_fswatch_example_drops_become_real_runs(
    sqlite_url: str, tmp_path: Path, anyio_backend: str
) -> None:
    inbox_seed, inbox_anyio = tmp_path / "seed", tmp_path / "anyio"
    inbox_seed.mkdir()
    inbox_anyio.mkdir()
    deps: dict[str, Any] = {
        "fswatch_anyio_path": str(inbox_anyio),
        "fswatch_anyio_graph_id": "ingest",
        "fswatch_anyio_interval": 0.05,
    }
    disable: list[str] = []
    if anyio_backend == "asyncio":  # the seed form uses asyncio.create_task
        deps.update(fswatch_path=str(inbox_seed), fswatch_graph_id="ingest", fswatch_interval=0.05)
    else:
        disable.append("my-triggers:stargraph.triggers:fswatch")
    async with Runtime(
        sqlite_url,
        graphs=[Graph(graph_id="ingest", fn=ingest)],
        settings=FAST,
        deps=deps,
        disable_plugins=disable,
        host_options=HOST,
    ) as rt:
        states = {s.name: s.state for s in rt.host.statuses()}
        assert states["my-triggers:stargraph.triggers:fswatch_anyio"] is PluginState.running
        folders = [inbox_anyio] + ([inbox_seed] if anyio_backend == "asyncio" else [])
        for folder in folders:
            tmp = folder / ".report.csv.part"
            tmp.write_bytes(b"a,b\n1,2\n")
            tmp.rename(folder / "report.csv")  # write-then-rename, as the seed advises
        runs = await _wait_runs(rt, len(folders), graph_id="ingest")
    assert {r.status for r in runs} == {RunStatus.succeeded}
    assert sorted(r.params["path"] for r in runs) == sorted(str(f / "report.csv") for f in folders)
    assert all(r.result == {"name": "report.csv", "size": 8} for r in runs)
