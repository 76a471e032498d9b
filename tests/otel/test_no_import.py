"""Tracing absent or off costs no import: ``opentelemetry`` never enters ``sys.modules``.

Each case runs in a fresh interpreter with a ``sys.meta_path`` finder in front: it records every
``opentelemetry`` import attempt and, for "absent", refuses it as if the package were missing.
The child imports Stargraph and runs a graph through a real scheduler on a SQLite file.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CHILD = textwrap.dedent(
    """
    import importlib.abc, sys
    mode, backend, db = sys.argv[1:]
    attempts = []

    class Gate(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == "opentelemetry":
                attempts.append(name)
                if mode != "disabled":
                    raise ModuleNotFoundError(f"No module named {name!r} (blocked)")
            return None

    sys.meta_path.insert(0, Gate())
    import anyio
    import stargraph
    from stargraph.errors import ConfigError
    from stargraph.scheduler import Graph, Scheduler, SchedulerSettings
    from stargraph.store import open_store

    assert not attempts, attempts

    async def ok(params, ctx):
        return 1

    async def main():
        store = open_store(f"sqlite:///{db}")
        await store.open()
        tracing = {"absent": None, "disabled": False, "required": True}[mode]
        settings = SchedulerSettings(poll_interval=0.05, tracing=tracing)
        try:
            async with Scheduler(store, [Graph(graph_id="ok", fn=ok)], settings=settings) as s:
                done = await s.enqueue("ok")
                with anyio.fail_after(10):
                    run = await s.wait_run(done.run_id)
            assert run.status == "succeeded" and run.trace_context is None, run
            print("ran")
        except ConfigError as exc:
            print("refused:", exc)
        finally:
            await store.close()

    anyio.run(main, backend=backend)
    loaded = sorted(m for m in sys.modules if m.partition(".")[0] == "opentelemetry")
    assert not loaded, loaded
    if mode == "disabled":
        assert not attempts, attempts
    print("clean")
    """
)


def _child(mode: str, backend: str, tmp_path: Path) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, backend, str(tmp_path / "s.db")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.parametrize("mode", ["absent", "disabled"])
def test_no_opentelemetry_import(anyio_backend: str, mode: str, tmp_path: Path) -> None:
    if mode == "disabled":
        pytest.importorskip("opentelemetry", reason="needs the otel extra installed to disable")
    assert _child(mode, anyio_backend, tmp_path) == ["ran", "clean"]


def test_tracing_true_without_the_package_is_a_config_error(
    anyio_backend: str, tmp_path: Path
) -> None:
    (line, clean) = _child("required", anyio_backend, tmp_path)
    assert line.startswith("refused: tracing = true needs OpenTelemetry")
    assert "stargraph[otel]" in line
    assert clean == "clean"
