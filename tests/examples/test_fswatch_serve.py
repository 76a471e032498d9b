"""The how-to's fswatch plugin, really installed, configured through ``[deps]``, under serve.

The seed's form (``asyncio.create_task`` in ``start()``) works on asyncio; on trio it fails
alone (reported by ``/v1/plugins``) while the anyio-native form works on both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_procs import BIN, free_port

FSWATCH = Path(__file__).parents[2] / "examples" / "fswatch"

GRAPHS = """
def ingest(params, ctx):
    return {"got": params, "source": ctx.trigger_source}
"""


@pytest.fixture(scope="module")
def fswatch_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``examples/fswatch`` pip-installed into a private folder (not the shared venv)."""
    work = tmp_path_factory.mktemp("fswatch-build")
    shutil.copytree(FSWATCH, work / "src", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--no-build-isolation",
            "--target",
            str(work / "site"),
            str(work / "src"),
        ],
        check=True,
        timeout=300,
    )
    return work / "site"


def _config(tmp_path: Path) -> Path:
    (tmp_path / "fs_graphs.py").write_text(GRAPHS)
    for name in ("inbox", "inbox_anyio"):
        (tmp_path / name).mkdir()
    path = tmp_path / "stargraph.toml"
    path.write_text(
        textwrap.dedent(f"""
        [store]
        url = "sqlite:///fswatch.db"
        [serve]
        graceful_timeout = 1
        [graphs.ingest]
        target = "fs_graphs:ingest"
        [deps]
        fswatch_path = "{tmp_path / "inbox"}"
        fswatch_graph_id = "ingest"
        fswatch_interval = 0.2
        fswatch_anyio_path = "{tmp_path / "inbox_anyio"}"
        fswatch_anyio_graph_id = "ingest"
        fswatch_anyio_interval = 0.2
    """)
    )
    return path


def _runs_for(client: httpx.Client, name: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        items = client.get("/v1/runs", params={"graph_id": "ingest", "status": "succeeded"}).json()[
            "items"
        ]
        found = [i for i in items if str(i["params"].get("path", "")).endswith(name)]
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"no succeeded run for {name}")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_fswatch_plugin_produces_runs(
    backend: str, fswatch_site: Path, spawn: Any, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "PYTHONPATH": os.pathsep.join([str(fswatch_site), os.environ.get("PYTHONPATH", "")]),
        "STARGRAPH_API_TOKEN": "",
    }
    server = spawn(
        [
            str(BIN / "stargraph"),
            "serve",
            "--config",
            str(config),
            "--backend",
            backend,
            "--bind",
            f"127.0.0.1:{port}",
        ],
        env=env,
    )
    server.wait_ready(url)
    with httpx.Client(base_url=url) as client:
        (tmp_path / "inbox_anyio" / "b.txt").write_text("anyio form")
        run = _runs_for(client, "b.txt")[0]
        assert run["trigger_source"] == "plugin"
        assert run["trigger_id"] == "my-triggers:stargraph.triggers:fswatch_anyio"
        assert run["scheduled_fire"] is None
        plugins = {p["name"]: p for p in client.get("/v1/plugins").json()["items"]}
        seed = plugins["my-triggers:stargraph.triggers:fswatch"]
        if backend == "asyncio":
            (tmp_path / "inbox" / "a.txt").write_text("seed form")
            assert _runs_for(client, "a.txt")
            assert seed["state"] == "running"
        else:
            assert seed["state"] in ("failed", "restarting")
        assert plugins["my-triggers:stargraph.triggers:fswatch_anyio"]["state"] == "running"
    assert server.terminate() == 0, server.output()
