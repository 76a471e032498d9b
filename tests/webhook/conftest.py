"""A real webhook stack for tests: a Runtime (SQLite store, scheduler, triggers) + Hypercorn.

The server listens on a loopback socket bound *before* Hypercorn starts (``fd://``), so the
port is known and already accepting when the fixture yields; clients are real httpx clients.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import attrs
import httpx
import hypercorn.asyncio
import hypercorn.trio
import sniffio
from hypercorn.config import Config
from quart import Blueprint, Quart
from quart_trio import QuartTrio

from stargraph.clock import Clock, SystemClock
from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, Scheduler, SchedulerSettings
from stargraph.store.base import RunFilter, RunStore
from stargraph.triggers.webhook import WebhookSpec, WebhookTrigger

GRAPH_ID = "on_event"


async def _noop(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"ok": True}


DEFAULT_GRAPHS = (Graph(graph_id=GRAPH_ID, fn=_noop),)


def make_app(blueprints: Sequence[Blueprint], config: dict[str, Any] | None = None) -> Quart:
    """Return a Quart (asyncio) or QuartTrio (trio) app holding *blueprints*."""
    cls = QuartTrio if sniffio.current_async_library() == "trio" else Quart
    app = cls("stargraph-webhook-tests")
    app.config.update(config or {})
    for bp in blueprints:
        app.register_blueprint(bp)
    return app


@asynccontextmanager
async def serving(app: Quart, *, graceful: float = 2.0) -> AsyncIterator[str]:
    """Serve *app* with Hypercorn on a pre-bound loopback socket; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = Config()
    config.bind = [f"fd://{os.dup(sock.fileno())}"]  # Hypercorn owns (and closes) the dup
    config.graceful_timeout = graceful
    config.accesslog = None
    trio_backend = sniffio.current_async_library() == "trio"
    serve = hypercorn.trio.serve if trio_backend else hypercorn.asyncio.serve
    stop = anyio.Event()
    shield = anyio.CancelScope(shield=True)

    async def run() -> None:
        with shield:
            await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            try:
                yield f"http://127.0.0.1:{sock.getsockname()[1]}"
            finally:
                stop.set()
                shield.deadline = anyio.current_time() + graceful + 2
    finally:
        sock.close()


@attrs.define
class Stack:
    """A running webhook stack (a real Runtime) and a client pointed at it."""

    url: str
    client: httpx.AsyncClient
    runtime: Runtime
    trigger: WebhookTrigger

    @property
    def scheduler(self) -> Scheduler:
        return self.runtime.scheduler

    @property
    def store(self) -> RunStore:
        return self.runtime.store

    async def post(
        self, path: str, body: bytes | str, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        content = body.encode() if isinstance(body, str) else body
        return await self.client.post(self.url + path, content=content, headers=headers or {}, **kw)

    async def run_count(self, trigger_id: str | None = None) -> int:
        page = await self.store.list_runs(RunFilter(trigger_id=trigger_id), limit=1000, cursor=None)
        return len(page.items)


def webhook_plugin(rt: Runtime) -> WebhookTrigger:
    """The WebhookTrigger instance the runtime's host loaded from the entry point."""
    found = [obj for _, obj in rt.host.triggers() if isinstance(obj, WebhookTrigger)]
    assert len(found) == 1, rt.host.statuses()
    return found[0]


@asynccontextmanager
async def webhook_stack(
    store_url: str,
    specs: Sequence[WebhookSpec],
    *,
    graphs: Sequence[Graph] = DEFAULT_GRAPHS,
    settings: SchedulerSettings | None = None,
    clock: Clock | None = None,
    app_config: dict[str, Any] | None = None,
) -> AsyncIterator[Stack]:
    """Run a real Runtime (store, scheduler, bundled triggers) behind Hypercorn."""
    rt = Runtime(
        store_url,
        graphs=graphs,
        settings=settings,
        clock=clock,
        deps={"webhook_specs": list(specs)},
        graph_entry_points=False,
    )
    async with rt:
        trigger = webhook_plugin(rt)
        async with (
            serving(make_app(rt.routes, app_config)) as url,
            httpx.AsyncClient(timeout=10) as client,
        ):
            yield Stack(url=url, client=client, runtime=rt, trigger=trigger)


class ShiftedClock(SystemClock):
    """The real clock moved to start at *start* (a Unix time): vectors from the past verify."""

    def __init__(self, start: float) -> None:
        self.offset = timedelta(seconds=start - time.time())

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    async def sleep_until(self, when: datetime) -> None:
        while (delay := (when - self.now()).total_seconds()) > 0:
            await anyio.sleep(min(delay, 30.0))
