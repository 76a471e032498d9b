"""Logs of a real server process, ``stargraph serve`` and ``hypercorn stargraph.serve.asgi:app``.

With JSON logs every line (Stargraph's, Hypercorn's error and access lines) is one JSON object
with an ISO-8601 UTC ``ts``; each request gets an ``http.access`` line with its duration in ms.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_procs import BIN, free_port, wait_run

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CONFIG = """
[store]
url = "sqlite:///logs.db"
[graphs.echo]
target = "log_graphs:echo"
"""


@pytest.fixture
def project(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "log_graphs.py").write_text("async def echo(params, ctx):\n    return params\n")
    (tmp_path / "stargraph.toml").write_text(textwrap.dedent(CONFIG))
    return {"STARGRAPH_CONFIG": str(tmp_path / "stargraph.toml")}


def _start(spawn: Any, project: dict[str, str], kind: str, backend: str, **opts: Any) -> Any:
    """Start *kind* (``serve`` or ``hypercorn``) with JSON logs; wait until ``/readyz``."""
    port = free_port()
    bind = ["--bind", f"127.0.0.1:{port}"]
    if kind == "serve":
        argv = [str(BIN / "stargraph"), "serve", "--log-format", "json", "--backend", backend]
    else:
        argv = [str(BIN / "hypercorn"), "stargraph.serve.asgi:app", "-k", backend]
        argv += ["--graceful-timeout", "1"]
    env = {**project, "STARGRAPH_LOG_FORMAT": "json", **opts.get("env", {})}
    proc = spawn([*argv, *bind, *opts.get("flags", [])], env=env)
    proc.url = f"http://127.0.0.1:{port}"
    proc.wait_ready(proc.url)
    return proc


def _lines(output: str) -> list[dict[str, Any]]:
    lines = []
    for text in output.splitlines():
        if text.strip():
            try:
                lines.append(json.loads(text))
            except ValueError:
                pytest.fail(f"not a JSON log line: {text!r}\n{output}")
    return lines


SERVERS = [
    ("serve", "asyncio"),
    ("serve", "trio"),
    ("hypercorn", "asyncio"),
    ("hypercorn", "trio"),
]


@pytest.mark.parametrize(("kind", "backend"), SERVERS)
def test_json_logs(kind: str, backend: str, spawn: Any, project: dict[str, str]) -> None:
    flags = ["--access-logfile", "-"] if kind == "hypercorn" else []
    proc = _start(spawn, project, kind, backend, flags=flags)
    with httpx.Client(base_url=proc.url) as client:
        run_id = client.post("/v1/runs", json={"graph_id": "echo"}).json()["run_id"]
        wait_run(client, run_id, "succeeded")
        assert client.get("/v1/runs", params={"graph_id": "not-in-logs"}).status_code == 200
    assert proc.terminate() == 0, proc.output()
    lines = _lines(proc.output())
    assert all(TS.match(line["ts"]) for line in lines), proc.output()
    access = [line for line in lines if line["event"] == "http.access"]
    posted = [a for a in access if a["method"] == "POST" and a["path"] == "/v1/runs"]
    assert posted and posted[0]["status"] == 202, proc.output()
    assert isinstance(posted[0]["duration_ms"], float) and posted[0]["duration_ms"] > 0
    assert any(a["path"] == "/readyz" and a["status"] == 200 for a in access)
    assert "not-in-logs" not in proc.output()  # the query string is never logged
    hyper = [line for line in lines if line["logger"] == "hypercorn.error"]
    assert any("Running on" in line["message"] for line in hyper), proc.output()
    if kind == "hypercorn":
        assert any(line["logger"] == "hypercorn.access" for line in lines), proc.output()
    done = next(line for line in lines if line["event"] == "run.succeeded")
    assert "duration" not in done and isinstance(done["duration_ms"], float)


@pytest.mark.parametrize(
    ("kind", "backend", "off"),
    [
        ("serve", "asyncio", {"flags": ["--no-access-log"]}),
        ("serve", "trio", {"flags": ["--no-access-log"]}),
        ("hypercorn", "asyncio", {"env": {"STARGRAPH_ACCESS_LOG": "off"}}),
        ("hypercorn", "trio", {"env": {"STARGRAPH_ACCESS_LOG": "0"}}),
    ],
)
def test_access_log_off(
    kind: str, backend: str, off: dict[str, Any], spawn: Any, project: dict[str, str]
) -> None:
    proc = _start(spawn, project, kind, backend, **off)
    assert httpx.get(f"{proc.url}/v1/runs").status_code == 200
    assert proc.terminate() == 0, proc.output()
    events = {line["event"] for line in _lines(proc.output())}
    assert "runtime.started" in events, proc.output()
    assert "http.access" not in events, proc.output()


def test_text_logs_have_utc_timestamps(spawn: Any, project: dict[str, str]) -> None:
    proc = _start(spawn, project, "hypercorn", "asyncio", env={"STARGRAPH_LOG_FORMAT": "text"})
    assert proc.terminate() == 0, proc.output()
    lines = [line for line in proc.output().splitlines() if line.strip()]
    assert all(TS.match(line.split(" ", 1)[0]) for line in lines), proc.output()
    assert any("GET" in line and "http.access" in line for line in lines), proc.output()


def test_a_bad_log_variable_fails_the_lifespan(spawn: Any, project: dict[str, str]) -> None:
    port = free_port()
    argv = [str(BIN / "hypercorn"), "stargraph.serve.asgi:app", "--bind", f"127.0.0.1:{port}"]
    proc = spawn(argv, env={**project, "STARGRAPH_LOG_FORMAT": "yaml"})
    proc.popen.wait(30)
    assert "STARGRAPH_LOG_FORMAT='yaml' is not one of text, json" in proc.output()
