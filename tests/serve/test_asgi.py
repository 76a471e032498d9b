"""``hypercorn stargraph.serve.asgi:app`` as a real process, ``-k asyncio`` and ``-k trio``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_procs import BIN, free_port, wait_run

from stargraph.triggers.webhook import sign

GRAPHS = """
import anyio

async def echo(params, ctx):
    return {"echo": params, "source": ctx.trigger_source}

async def sleepy(params, ctx):
    await anyio.sleep(float(params.get("seconds", 60)))
    return "slept"
"""

CONFIG = """
[store]
url = "sqlite:///asgi.db"
[serve]
graceful_timeout = 1
api_token_env = "ASGI_TEST_TOKEN"
[graphs.echo]
target = "asgi_graphs:echo"
[graphs.sleepy]
target = "asgi_graphs:sleepy"
[[webhook]]
trigger_id = "webhook:asgi"
path = "/hooks/asgi"
graph_id = "echo"
scheme = "standard-webhooks"
secret_env = "ASGI_HOOK_SECRET"
"""
TOKEN = "asgi-token"
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a standard-webhooks style key


@pytest.fixture
def project(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "asgi_graphs.py").write_text(GRAPHS)
    (tmp_path / "stargraph.toml").write_text(textwrap.dedent(CONFIG))
    return {
        "STARGRAPH_CONFIG": str(tmp_path / "stargraph.toml"),
        "ASGI_TEST_TOKEN": TOKEN,
        "ASGI_HOOK_SECRET": SECRET,
    }


@pytest.mark.parametrize("worker", ["asyncio", "trio"])
def test_hypercorn_serves_the_app(
    worker: str, spawn: Any, project: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = spawn(
        [
            str(BIN / "hypercorn"),
            "stargraph.serve.asgi:app",
            "-k",
            worker,
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "1",
        ],
        env=project,
    )
    proc.wait_ready(url)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert httpx.post(f"{url}/v1/runs", json={"graph_id": "echo"}).status_code == 401
        accepted = client.post("/v1/runs", json={"graph_id": "echo", "params": {"k": worker}})
        assert accepted.status_code == 202
        run = wait_run(client, accepted.json()["run_id"], "succeeded")
        assert run["result"] == {"echo": {"k": worker}, "source": "manual"}

        body = json.dumps({"type": "ping", "worker": worker}).encode()
        hook = httpx.post(
            f"{url}/hooks/asgi", content=body, headers=sign("standard-webhooks", SECRET, body)
        )
        assert hook.status_code == 202, hook.text
        run = wait_run(client, hook.json()["run_id"], "succeeded")
        assert run["trigger_source"] == "webhook" and run["trigger_id"] == "webhook:asgi"

        doc = client.get("/openapi.json").json()
        assert "/hooks/asgi" in doc["paths"] and "/v1/runs" in doc["paths"]
        plugins = {p["name"]: p["state"] for p in client.get("/v1/plugins").json()["items"]}
        assert plugins["stargraph:stargraph.triggers:webhook"] == "running"

        inflight = client.post("/v1/runs", json={"graph_id": "sleepy"}).json()["run_id"]
        wait_run(client, inflight, "running")
    assert proc.terminate() == 0, proc.output()
    shown = _show(inflight, project, tmp_path)
    assert shown["status"] == "pending" and shown["attempt"] == 1  # released, not lost
    assert "Traceback" not in proc.output(), proc.output()


def _show(run_id: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    import subprocess

    done = subprocess.run(
        [str(BIN / "stargraph"), "runs", "show", run_id, "--json"],
        env={**env, "PATH": str(BIN)},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


def test_bad_config_fails_the_lifespan(spawn: Any, tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[scheduler]\nmax_concurrent_runs = 0\n")
    port = free_port()
    proc = spawn(
        [str(BIN / "hypercorn"), "stargraph.serve.asgi:app", "--bind", f"127.0.0.1:{port}"],
        env={"STARGRAPH_CONFIG": "bad.toml"},
    )
    proc.popen.wait(30)  # Hypercorn 0.18 ends; its exit status does not reflect the failure
    assert "Lifespan failure in startup" in proc.output()
    assert "bad.toml: scheduler.max_concurrent_runs: must be at least 1, got 0" in proc.output()
