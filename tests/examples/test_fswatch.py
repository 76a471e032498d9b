"""The seed page's example, installed for real with pip: every promise it makes, end to end.

The example is installed into a private target folder (not the shared venv): installed there,
its seed-form trigger -- which needs ``deps["fswatch_path"]`` -- would be loaded by every other
test's runtime.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from stargraph.errors import StargraphRuntimeError
from stargraph.hosting import HostOptions, PluginState, TriggerHost
from stargraph.plugin import build_plugin_manager, unwrap

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fswatch"
SEED = "my-triggers:stargraph.triggers:fswatch"
ANYIO = "my-triggers:stargraph.triggers:fswatch_anyio"
HOOKS = "my-triggers:stargraph:fswatch_hooks"
OPTIONS = HostOptions(start_timeout=2, stop_timeout=2, max_restarts=0)


class RecordingScheduler:
    """Stands in for the scheduler (which has its own runtime test): records each enqueue."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def enqueue(
        self,
        graph_id: str,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        self.calls.append(
            {"graph_id": graph_id, "params": params, "idempotency_key": idempotency_key}
        )
        return f"receipt-{len(self.calls)}"


def _builds_in_place() -> bool:
    try:
        from setuptools import __version__
    except ImportError:
        return False
    return tuple(int(p) for p in __version__.split(".")[:2]) >= (70, 1)


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install examples/fswatch`` (from a copy, so the build leaves no litter)."""
    work = tmp_path_factory.mktemp("fswatch-build")
    source = shutil.copytree(EXAMPLE, work / "fswatch")
    isolation = ["--no-build-isolation"] if _builds_in_place() else []
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            *isolation,
            "--target",
            str(work / "site"),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    return work / "site"


@pytest.fixture
def installed(example_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(example_site))
    yield example_site
    for name in [m for m in sys.modules if m.split(".")[0] == "my_triggers"]:
        del sys.modules[name]


def run_python(site: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "STARGRAPH_TRACE_PLUGINS"}
    full_env.update(env, PYTHONPATH=str(site))
    return subprocess.run(
        [sys.executable, "-c", code],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def drop(folder: Path, name: str, content: bytes) -> Path:
    """Write-then-rename, as a well-behaved producer does."""
    tmp = folder.parent / f".{name}.part"
    tmp.write_bytes(content)
    return tmp.replace(folder / name)


def key(trigger_id: str, path: Path) -> str:
    return f"{trigger_id}:{path}:{hashlib.sha256(path.read_bytes()).hexdigest()}"


async def settle(scheduler: RecordingScheduler, count: int) -> None:
    """Wait for *count* enqueues, then a few more poll intervals to catch any extra one."""
    with anyio.fail_after(5):
        while len(scheduler.calls) < count:
            await anyio.sleep(0.01)
    await anyio.sleep(0.15)


def test_isinstance_trigger_prints_true(example_site: Path) -> None:
    code = (
        "from stargraph.triggers import Trigger\n"
        "from my_triggers.fswatch import FilesystemWatchTrigger\n"
        "print(isinstance(FilesystemWatchTrigger(), Trigger))"
    )
    assert run_python(example_site, code).stdout == "True\n"


def test_trace_shows_the_registration(example_site: Path) -> None:
    code = "from stargraph.plugin.loader import build_plugin_manager; build_plugin_manager()"
    proc = run_python(example_site, code, STARGRAPH_TRACE_PLUGINS="1")
    register = [line for line in proc.stderr.splitlines() if " plugin.register " in line]
    for name in (SEED, ANYIO, HOOKS):
        assert any(f"name='{name}'" in line for line in register), proc.stderr


def test_init_requires_the_scheduler(installed: Path) -> None:
    from my_triggers.fswatch import FilesystemWatchTrigger

    with pytest.raises(StargraphRuntimeError) as info:
        FilesystemWatchTrigger().init({"fswatch_path": "/x", "fswatch_graph_id": "g"})
    assert str(info.value) == "FilesystemWatchTrigger.init(deps) requires deps['scheduler']"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the seed's form calls asyncio.create_task
async def test_seed_form_enqueues_one_run_per_file(installed: Path, tmp_path: Path) -> None:
    inbox, other = tmp_path / "inbox", tmp_path / "other"
    inbox.mkdir(), other.mkdir()
    scheduler = RecordingScheduler()
    deps = {
        "scheduler": scheduler,
        "fswatch_path": str(inbox),
        "fswatch_graph_id": "ingest",
        "fswatch_interval": 0.02,
        "fswatch_hooks_path": str(other),
        "fswatch_hooks_graph_id": "other",
        "fswatch_hooks_interval": 0.02,
    }
    async with TriggerHost(build_plugin_manager(), deps, options=OPTIONS) as host:
        states = {s.name: s.state for s in host.statuses()}
        assert states[SEED] == states[HOOKS] == states[ANYIO] == PluginState.running
        path = drop(inbox, "report.csv", b"a,b\n1,2\n")
        await settle(scheduler, 1)
        assert scheduler.calls == [
            {
                "graph_id": "ingest",
                "params": {"path": str(path)},
                "idempotency_key": key("fswatch", path),
            }
        ]
        seed = dict(host.triggers())[SEED]
        assert type(seed).__name__ == "FilesystemWatchTrigger"
        second = drop(other, "b.txt", b"hooks")  # the hooks module watches its own folder
        await settle(scheduler, 2)
        assert scheduler.calls[1]["idempotency_key"] == key("fswatch_hooks", second)
        assert len(scheduler.calls) == 2
    assert seed._task is None  # stop() cancelled the asyncio task


async def test_anyio_form_on_both_backends(installed: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    early = drop(inbox, "early.txt", b"before start")
    scheduler = RecordingScheduler()
    deps = {
        "scheduler": scheduler,
        "fswatch_anyio_path": str(inbox),
        "fswatch_anyio_graph_id": "ingest",
        "fswatch_anyio_interval": 0.02,
    }
    pm = build_plugin_manager(disable=[SEED])  # the asyncio-only form stays out (trio run)
    async with TriggerHost(pm, deps, options=OPTIONS) as host:
        assert {s.name: s.state for s in host.statuses()}[ANYIO] == PluginState.running
        await settle(scheduler, 1)
        late = drop(inbox, "late.txt", b"after start")
        await settle(scheduler, 2)
        late.write_bytes(b"changed")  # new content, new key, new run
        await settle(scheduler, 3)
    first_late = hashlib.sha256(b"after start").hexdigest()
    assert [c["idempotency_key"] for c in scheduler.calls] == [
        key("fswatch_anyio", early),
        f"fswatch_anyio:{late}:{first_late}",
        key("fswatch_anyio", late),
    ]
    assert unwrap(pm.get_plugin(ANYIO)) is dict(host.triggers())[ANYIO]


async def test_enqueue_failure_crashes_the_loop_and_the_restart_retries(
    installed: Path, tmp_path: Path
) -> None:
    class BusyOnce(RecordingScheduler):
        def enqueue(self, *args: Any, **kwargs: Any) -> str:
            if not getattr(self, "refused", False):
                self.refused = True
                raise StargraphRuntimeError("intake full")
            return super().enqueue(*args, **kwargs)

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = drop(inbox, "x.bin", b"\x00\x01")
    scheduler = BusyOnce()
    deps = {
        "scheduler": scheduler,
        "fswatch_anyio_path": str(inbox),
        "fswatch_anyio_graph_id": "ingest",
        "fswatch_anyio_interval": 0.02,
    }
    options = HostOptions(backoff_initial=0.05, max_restarts=2)
    async with TriggerHost(build_plugin_manager(disable=[SEED]), deps, options=options) as host:
        await settle(scheduler, 1)
        status = {s.name: s for s in host.statuses()}[ANYIO]
        assert status.state == "running" and status.restarts == 1
    assert [c["idempotency_key"] for c in scheduler.calls] == [key("fswatch_anyio", path)]


@pytest.mark.parametrize("anyio_backend", ["trio"])  # what the seed's asyncio form does on trio
async def test_seed_form_on_trio_fails_alone(installed: Path, tmp_path: Path) -> None:
    deps = {
        "scheduler": RecordingScheduler(),
        "fswatch_path": str(tmp_path),
        "fswatch_graph_id": "ingest",
    }
    async with TriggerHost(build_plugin_manager(), deps, options=OPTIONS) as host:
        status = {s.name: s for s in host.statuses()}
        assert status[SEED].state == "failed"
        assert "trigger_start: RuntimeError" in (status[SEED].error or "")
        assert status[ANYIO].state == status[HOOKS].state == "running"  # idle, unconfigured
