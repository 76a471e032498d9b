"""A real ``stargraph serve`` subprocess with data on every console page, for the browser tests.

The config has a cron trigger that fires every few seconds, a paused cron, one to pause and
resume, a signed webhook (one accepted and one rejected delivery), an ``fs`` plugin trigger
watching a folder, and a queue plugin pointed at a closed port (a failing plugin). Runs are
seeded through the JSON API: succeeded, failed (with a traceback) and still running.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from stargraph.triggers.webhook.schemes import sign

sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))

from serve_procs import BIN, Proc, free_port, wait_run

HERE = Path(__file__).parent
WEBHOOK_SECRET = "browser-test-webhook-secret"
API_TOKEN = "browser-test-api-token"
CLOSED_PORT = 9  # discard: nothing listens there, so the queue plugin fails and restarts

CONFIG = """
[store]
url = "sqlite:///stargraph.db"

[serve]
graceful_timeout = 2

[scheduler]
max_concurrent_runs = 8

[graphs.ok]
target = "browser_graphs:ok"

[graphs.fail]
target = "browser_graphs:fail"
max_attempts = 2
backoff_base = 0.05
backoff_max = 0.1

[graphs.slow]
target = "browser_graphs:slow"

[[cron]]
trigger_id = "cron:often"
schedule = "* * * * * */10"
graph_id = "ok"
params = {{ source = "cron" }}
missed_fire_policy = "skip"

[[cron]]
trigger_id = "cron:nightly"
schedule = "30 2 * * *"
tz = "Europe/Paris"
graph_id = "ok"
params = {{ source = "nightly" }}
overlap = "skip"

[[cron]]
trigger_id = "cron:held"
schedule = "0 * * * *"
graph_id = "ok"
paused = true

[[webhook]]
trigger_id = "webhook:demo"
path = "/hooks/demo"
graph_id = "ok"
scheme = "stargraph"
secret_env = "BROWSER_WEBHOOK_SECRET"

[[fs]]
trigger_id = "fs:inbox"
path = "{inbox}"
graph_id = "ok"
settle = "0.2s"

[[queue]]
trigger_id = "queue:down"
kind = "redis-stream"
url = "redis://127.0.0.1:{closed}/0"
source = "orders"
graph_id = "ok"
"""


@attrs.frozen(kw_only=True)
class Console:
    """A running server: its URL, token (if any), an API client and the seeded run ids."""

    url: str
    backend: str
    token: str | None
    api: httpx.Client
    runs: dict[str, str]
    folder: Path

    @property
    def label(self) -> str:
        """``asyncio-open``, ``trio-token``: names screenshot folders and test ids."""
        return f"{self.backend}-{'token' if self.token else 'open'}"

    def run(self, run_id: str) -> dict[str, Any]:
        """The run as ``GET /v1/runs/{id}`` shows it."""
        response = self.api.get(f"/v1/runs/{run_id}")
        response.raise_for_status()
        return dict(response.json())

    def trigger(self, trigger_id: str) -> dict[str, Any]:
        """The trigger as ``GET /v1/triggers/{id}`` shows it."""
        response = self.api.get(f"/v1/triggers/{trigger_id}")
        response.raise_for_status()
        return dict(response.json())

    def enqueue(self, graph_id: str, **params: Any) -> str:
        """``POST /v1/runs`` and return the new run id."""
        response = self.api.post("/v1/runs", json={"graph_id": graph_id, "params": params})
        response.raise_for_status()
        return str(response.json()["run_id"])

    def wait(self, run_id: str, *statuses: str) -> dict[str, Any]:
        """Poll until the run is in one of *statuses*."""
        return wait_run(self.api, run_id, *statuses)


def write_config(folder: Path) -> Path:
    """Write the config, the graphs module and the fs inbox (with one file) into *folder*."""
    inbox = folder / "inbox"
    inbox.mkdir()
    (inbox / "report.csv").write_text("a,b\n1,2\n")
    (folder / "browser_graphs.py").write_text((HERE / "browser_graphs.py").read_text())
    path = folder / "stargraph.toml"
    path.write_text(CONFIG.format(inbox=inbox, closed=CLOSED_PORT))
    return path


def start(folder: Path, backend: str, token: str | None) -> tuple[Proc, str]:
    """Start ``stargraph serve`` in *folder* on a free loopback port; wait until ready."""
    config = write_config(folder)
    url = f"http://127.0.0.1:{free_port()}"
    argv = [str(BIN / "stargraph"), "serve", "--config", str(config), "--backend", backend]
    env = {"BROWSER_WEBHOOK_SECRET": WEBHOOK_SECRET, "STARGRAPH_API_TOKEN": token or ""}
    proc = Proc([*argv, "--bind", url.removeprefix("http://")], cwd=folder, env=env)
    proc.wait_ready(url)
    return proc, url


def deliver(api: httpx.Client, body: dict[str, Any], *, valid: bool) -> int:
    """POST a webhook delivery, signed right or wrong; return the status code."""
    raw = json.dumps(body)
    headers = sign("stargraph", WEBHOOK_SECRET if valid else "wrong-secret", raw)
    return api.post("/hooks/demo", content=raw, headers=headers).status_code


def seed(api: httpx.Client) -> dict[str, str]:
    """Create the runs every page shows; return them by label once each is where it stays."""
    runs = {
        "succeeded": _post(api, "ok", {"name": "ada"}),
        "failed": _post(api, "fail", {"why": "on purpose"}),
        "running": _post(api, "slow", {"seconds": 600}),
    }
    assert deliver(api, {"event": "push"}, valid=True) == 202
    assert deliver(api, {"event": "forged"}, valid=False) == 401
    wait_run(api, runs["succeeded"], "succeeded")
    wait_run(api, runs["failed"], "failed")
    wait_run(api, runs["running"], "running")
    _wait_fs_run(api)
    _wait_plugin_failing(api, "redis-stream")
    return runs


def _post(api: httpx.Client, graph_id: str, params: dict[str, Any]) -> str:
    response = api.post("/v1/runs", json={"graph_id": graph_id, "params": params})
    assert response.status_code in (201, 202), response.text
    return str(response.json()["run_id"])


def _wait_plugin_failing(api: httpx.Client, name: str, timeout: float = 15) -> None:
    """Until the queue plugin aimed at a closed port has failed once (the overview lists it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        plugins = api.get("/v1/plugins").json()["items"]
        if any(name in p["name"] and p.get("error") for p in plugins):
            return
        time.sleep(0.1)
    pytest.fail(f"the {name} plugin never reported its connection error")


def _wait_fs_run(api: httpx.Client, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = api.get("/v1/runs", params={"trigger_id": "fs:inbox"}).json()["items"]
        if items:
            return
        time.sleep(0.1)
    pytest.fail("the fs trigger made no run from inbox/report.csv")
