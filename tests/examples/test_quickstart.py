"""The quickstart end to end: ``stargraph serve`` as a real process on asyncio and trio.

A cron run, an interval run, a signed webhook run, a manual run and a delayed one (from
``stargraph run``, ``--in``), the CLI listings, and a graceful SIGTERM with runs in flight.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_procs import BIN, free_port, wait_run

from stargraph.triggers.webhook import sign

QUICKSTART = Path(__file__).parents[2] / "examples" / "quickstart"
TOKEN = "quickstart-api-token"


def _cli(*argv: str, env: dict[str, str], cwd: Path) -> Any:
    done = subprocess.run(
        [str(BIN / "stargraph"), *argv, "--json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    folder = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, folder, ignore=shutil.ignore_patterns("*.db*", "__pycache__"))
    toml = folder / "stargraph.toml"
    toml.write_text(toml.read_text().replace("graceful_timeout = 5", "graceful_timeout = 3"))
    return toml


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_quickstart_end_to_end(backend: str, quickstart: Path, spawn: Any, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "QUICKSTART_WEBHOOK_SECRET": "quickstart-secret",
        "STARGRAPH_API_TOKEN": TOKEN,
        "STARGRAPH_CONFIG": str(quickstart),
    }
    server = spawn(
        [str(BIN / "stargraph"), "serve", "--backend", backend, "--bind", f"127.0.0.1:{port}"],
        env=env,
    )
    server.wait_ready(url)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        # manual: the CLI enqueues on the same store; the server executes
        manual = _cli("run", "hello", "-p", "name=e2e", env=env, cwd=tmp_path)
        run = wait_run(client, manual["run_id"], "succeeded")
        assert run["result"] == {"greeting": "hello, e2e", "attempt": 1}

        # webhook: signed as a sender would (`stargraph webhook sign` is tested in tests/cli)
        body = b'{"event": "deploy", "id": 7}'
        headers = sign("stargraph", "quickstart-secret", body)
        hook = httpx.post(f"{url}/hooks/demo", content=body, headers=headers)
        assert hook.status_code == 202, hook.text
        run = wait_run(client, hook.json()["run_id"], "succeeded")
        assert run["trigger_source"] == "webhook" and run["params"] == {"event": "deploy", "id": 7}
        replay = httpx.post(f"{url}/hooks/demo", content=body, headers=headers)
        assert replay.status_code == 409

        # delayed: pending until not_before, then run
        delayed = _cli("run", "hello", "-p", "name=later", "--in", "2s", env=env, cwd=tmp_path)
        pending = client.get(f"/v1/runs/{delayed['run_id']}").json()
        assert pending["status"] == "pending" and pending["not_before"] is not None

        # cron: every 5 seconds; interval: every 3 seconds
        cron = _wait_cron_run(client)
        assert cron["result"]["source"] == "quickstart"
        assert cron["result"]["planned"] == cron["scheduled_fire"]
        interval = _wait_cron_run(client, "interval:sync")
        assert interval["result"]["source"] == "interval"
        assert interval["trigger_source"] == "interval"

        run = wait_run(client, delayed["run_id"], "succeeded")
        started, due = run["started_at"], pending["not_before"]
        assert datetime.fromisoformat(started) >= datetime.fromisoformat(due)

        triggers = _cli("triggers", "list", "--url", url, env=env, cwd=tmp_path)["items"]
        kinds = {t["trigger_id"]: t["kind"] for t in triggers}
        assert {"cron:tick", "webhook:demo"} <= kinds.keys()
        assert kinds["interval:sync"] == "interval"

        # graceful shutdown: a short run finishes within the grace, a long one is released
        short = client.post("/v1/runs", json={"graph_id": "hello", "params": {"seconds": 1}})
        long = client.post("/v1/runs", json={"graph_id": "hello", "params": {"seconds": 60}})
        short_id, long_id = short.json()["run_id"], long.json()["run_id"]
        wait_run(client, short_id, "running")
        wait_run(client, long_id, "running")
    assert server.terminate() == 0, server.output()
    listed = _cli("runs", "list", "--limit", "100", env=env, cwd=tmp_path)["items"]
    assert {"manual", "webhook", "cron"} <= {item["trigger_source"] for item in listed}
    after = {r["run_id"]: r for r in listed}
    assert after[short_id]["status"] == "succeeded"
    assert after[long_id]["status"] == "pending" and after[long_id]["attempt"] == 1  # released
    assert "Traceback" not in server.output(), server.output()
    assert "serve.listening" in server.output() and "serve.stopped" in server.output()


def _wait_cron_run(client: httpx.Client, trigger_id: str = "cron:tick") -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        items = client.get(
            "/v1/runs", params={"trigger_id": trigger_id, "status": "succeeded"}
        ).json()["items"]
        if items:
            return dict(items[0])
        time.sleep(0.2)
    pytest.fail(f"no {trigger_id} run within 15 s")
