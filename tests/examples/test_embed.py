"""The embedding examples run as real programs: the runtime inside the app's own task group."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_procs import free_port, wait_run

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize("name", ["embed_asyncio.py", "embed_trio.py"])
def test_embedded_runtime_runs_and_stops_by_cancellation(name: str, spawn: Any) -> None:
    proc = spawn([sys.executable, str(EXAMPLES / name), "--seconds", "0.5"])
    assert proc.popen.wait(60) == 0, proc.output()
    out = proc.output()
    assert re.search(r"run \w+ succeeded: \{'greeting': 'hello, (asyncio|trio)'\}", out), out
    beats = re.search(r"stopped cleanly after (\d+) heartbeats", out)
    assert beats and int(beats.group(1)) > 0, out
    assert "Traceback" not in out


@pytest.mark.parametrize("name", ["embed_asyncio.py", "embed_trio.py"])
def test_embedded_runtime_serves_http(name: str, spawn: Any) -> None:
    port = free_port()
    proc = spawn([sys.executable, str(EXAMPLES / name), "--seconds", "5", "--serve", str(port)])
    deadline = time.monotonic() + 30
    while f"listening on http://127.0.0.1:{port}" not in proc.output():
        assert time.monotonic() < deadline and proc.popen.poll() is None, proc.output()
        time.sleep(0.05)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        accepted = client.post("/v1/runs", json={"graph_id": "greet", "params": {"name": "http"}})
        assert accepted.status_code == 202, accepted.text
        run = wait_run(client, accepted.json()["run_id"], "succeeded")
        assert run["result"] == {"greeting": "hello, http"}
    assert proc.popen.wait(60) == 0, proc.output()
    assert "stopped cleanly" in proc.output()
