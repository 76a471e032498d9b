"""tests/console fixtures: a real runtime (SQLite file) behind a real Hypercorn on loopback."""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))

from serve_procs import spawn

from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, RunContext
from stargraph.serve import attach_runtime, bind_socket, create_app, serve_app
from stargraph.triggers.cron import CronSpec
from stargraph.triggers.webhook import WebhookSpec

__all__ = ["Console", "csrf_of", "spawn"]

TOKEN = "console-api-token-7f3a"
HOOK_SECRET = "console-hook-secret-91b2"
CONSOLE_SECRET = "console-signing-secret-55c1"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def ok(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"echo": params}


async def slow(params: dict[str, Any], ctx: RunContext) -> str:
    await anyio.sleep(30)
    return "slept"


def fail(params: dict[str, Any], ctx: RunContext) -> None:
    raise RuntimeError("graph failed on purpose")


GRAPHS = [
    Graph(graph_id="ok", fn=ok),
    Graph(graph_id="slow", fn=slow),
    Graph(graph_id="fail", fn=fail),
]


def deps() -> dict[str, Any]:
    return {
        "cron_specs": [CronSpec(trigger_id="cron:yearly", schedule="0 0 1 1 *", graph_id="ok")],
        "webhook_specs": [
            WebhookSpec(
                trigger_id="webhook:test", path="/hooks/test", graph_id="ok",
                scheme="stargraph", secrets=(HOOK_SECRET,),
            )
        ],
    }  # fmt: skip


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, html[:500]
    return match.group(1)


@attrs.frozen
class Console:
    """A running server: API client (bearer), browser client (cookies), anonymous client."""

    api: httpx.AsyncClient
    browser: httpx.AsyncClient
    anon: httpx.AsyncClient
    runtime: Runtime
    url: str

    async def csrf(self, path: str = "/ui/runs") -> str:
        """The browser session's CSRF token, read from a page."""
        return csrf_of((await self.browser.get(path)).text)


async def login(client: httpx.AsyncClient, token: str = TOKEN) -> httpx.Response:
    """Log *client* in through the form; return the POST's answer."""
    page = await client.get("/ui/login")
    form = {"token": token, "csrf": csrf_of(page.text), "next": "/ui/runs"}
    return await client.post("/ui/login", data=form)


@asynccontextmanager
async def serving(
    backend: str, folder: Path, host: str, **app_options: Any
) -> AsyncIterator[tuple[Runtime, int]]:
    """A runtime on a fresh SQLite file served by Hypercorn on *host*: ``(runtime, port)``."""
    async with Runtime(f"sqlite:///{folder / 'c.db'}", graphs=GRAPHS, deps=deps()) as runtime:
        app = create_app(backend, **app_options)
        attach_runtime(app, runtime)
        with bind_socket(host, 0) as sock:
            async with anyio.create_task_group() as tg:
                _, port = await tg.start(partial(serve_app, app, sock=sock, grace=2))
                yield runtime, port
                tg.cancel_scope.cancel()


@pytest.fixture(scope="module")
async def console(
    anyio_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Console]:
    folder = tmp_path_factory.mktemp("console")
    options = {"api_token": TOKEN, "console_secret": CONSOLE_SECRET}
    async with serving(anyio_backend, folder, "127.0.0.1", **options) as (runtime, port):
        url = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            httpx.AsyncClient(base_url=url, headers=auth) as api,
            httpx.AsyncClient(base_url=url) as browser,
            httpx.AsyncClient(base_url=url) as anon,
        ):
            assert (await login(browser)).status_code == 303
            yield Console(api=api, browser=browser, anon=anon, runtime=runtime, url=url)


@pytest.fixture(scope="module")
async def open_console(
    anyio_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A server without an API token, listening on every address: its loopback URL."""
    async with serving(anyio_backend, tmp_path_factory.mktemp("open"), "0.0.0.0") as (_, port):
        yield f"http://127.0.0.1:{port}"
