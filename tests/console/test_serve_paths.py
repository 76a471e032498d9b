"""The console under ``stargraph serve`` and ``hypercorn stargraph.serve.asgi:app`` (real
processes), sharing one session secret: a login on one node is valid on the other."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import httpx
from serve_procs import BIN, free_port

from .conftest import csrf_of

CONFIG = """
[store]
url = "sqlite:///console.db"
[serve]
graceful_timeout = 1
api_token_env = "CONSOLE_TEST_TOKEN"
[graphs.echo]
target = "console_graphs:echo"
"""
TOKEN = "console-process-token"


def test_both_serve_paths_share_sessions(spawn: Any, tmp_path: Path) -> None:
    (tmp_path / "console_graphs.py").write_text("async def echo(params, ctx):\n    return 1\n")
    (tmp_path / "stargraph.toml").write_text(textwrap.dedent(CONFIG))
    env = {
        "STARGRAPH_CONFIG": str(tmp_path / "stargraph.toml"),
        "CONSOLE_TEST_TOKEN": TOKEN,
        "STARGRAPH_CONSOLE_SECRET": "shared-by-every-node",
    }
    serve_port, hyper_port = free_port(), free_port()
    serve = spawn(
        [str(BIN / "stargraph"), "serve", "--backend", "asyncio", "--bind",
         f"127.0.0.1:{serve_port}"],
        env=env,
    )  # fmt: skip
    hyper = spawn(
        [str(BIN / "hypercorn"), "stargraph.serve.asgi:app", "-k", "trio", "--bind",
         f"127.0.0.1:{hyper_port}", "--graceful-timeout", "1"],
        env=env,
    )  # fmt: skip
    urls = [f"http://127.0.0.1:{serve_port}", f"http://127.0.0.1:{hyper_port}"]
    serve.wait_ready(urls[0])
    hyper.wait_ready(urls[1])
    with httpx.Client(base_url=urls[0]) as first:
        page = first.get("/ui/login")
        form = {"token": TOKEN, "csrf": csrf_of(page.text), "next": "/ui/"}
        assert first.post("/ui/login", data=form).status_code == 303
        assert "<h1>Overview</h1>" in first.get("/ui/").text
        cookie = first.cookies["stargraph_console"]
    with httpx.Client(base_url=urls[1]) as second:
        assert second.get("/ui/runs").status_code == 303  # no session yet
        second.cookies.clear()  # the anonymous session cookie it was just given
        second.cookies.set("stargraph_console", cookie, path="/ui")
        runs = second.get("/ui/runs")
        assert runs.status_code == 200 and "<h1>Runs</h1>" in runs.text
        assert second.get("/ui/static/console.js").status_code == 200
    assert serve.terminate() == 0 and hyper.terminate() == 0
