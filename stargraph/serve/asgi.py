"""``hypercorn stargraph.serve.asgi:app [-k trio]``: the same app under an operator's Hypercorn.

The config file comes from ``STARGRAPH_CONFIG`` (defaults apply when it is unset); logging
from ``STARGRAPH_LOG_LEVEL``, ``STARGRAPH_LOG_FORMAT`` and ``STARGRAPH_ACCESS_LOG`` (see
:func:`stargraph._log.configure_logging_from_env`), set up at lifespan startup. The ASGI
lifespan owns the runtime *without* holding a task group across a ``yield``: the lifespan
coroutine itself enters the runtime (its task group lives in that one coroutine, which runs for
the whole life of the server), builds the Quart/QuartTrio app for the running backend, and
forwards the lifespan messages to the app's own lifespan in a child task.

Importing this module installs Stargraph's fixes for Hypercorn's trio worker (see
``stargraph.serve._hypercorn_trio``): it is the one hook ``hypercorn ... -k trio`` offers.
Requests go through :class:`~stargraph.serve._drain.DrainBody`, as under ``stargraph serve``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import sniffio
from anyio.abc import TaskGroup

from stargraph._log import configure_logging_from_env, log_event
from stargraph.config import load_config
from stargraph.errors import first_leaf
from stargraph.runtime import Runtime
from stargraph.serve import _hypercorn_trio
from stargraph.serve._access import AccessLog
from stargraph.serve._drain import DrainBody

__all__ = ["StargraphASGI", "app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
logger = logging.getLogger("stargraph.serve")


class _InnerLifespan:
    """Drives the wrapped app's own lifespan (``before_serving`` etc.) in a child task."""

    def __init__(self, inner: Any, scope: Scope, tg: TaskGroup) -> None:
        self._to_app, self._app_inbox = anyio.create_memory_object_stream[Message](2)
        self._to_us, self._our_inbox = anyio.create_memory_object_stream[Message](2)
        tg.start_soon(inner, scope, self._app_inbox.receive, self._to_us.send)

    async def step(self, kind: str) -> str | None:
        """Send ``lifespan.<kind>``; return ``None`` on success or the failure message."""
        await self._to_app.send({"type": f"lifespan.{kind}"})
        reply = await self._our_inbox.receive()
        if reply["type"].endswith(".failed"):
            return str(reply.get("message", ""))
        return None


class StargraphASGI:
    """An ASGI app whose lifespan owns a Stargraph runtime; requests go to the Quart app."""

    def __init__(self, config_path: str | None = None, *, setup_logging: bool = False) -> None:
        self._config_path = config_path
        self._setup_logging = setup_logging  # configure_logging_from_env() at startup
        self._app: Any = None
        self._started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif self._app is None:
            await _not_ready(scope, send)
        else:
            await self._app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        self._started = False
        failure = await self._serve_lifespan(scope, receive, send)
        if failure is None:
            await send({"type": "lifespan.shutdown.complete"})
            return
        log_event(logger, "serve.lifespan.failed", logging.ERROR, error=failure)
        kind = "shutdown" if self._started else "startup"
        await send({"type": f"lifespan.{kind}.failed", "message": failure})

    async def _serve_lifespan(self, scope: Scope, receive: Receive, send: Send) -> str | None:
        """Run the runtime for the whole lifespan; return the failure message, if any."""
        try:
            if self._setup_logging:
                configure_logging_from_env()
            cfg = load_config(self._config_path or os.environ.get("STARGRAPH_CONFIG") or None)
            runtime = Runtime.from_config(cfg)
            async with runtime, anyio.create_task_group() as tg:
                await self._run(scope, receive, send, cfg, runtime, tg)
        except Exception as exc:
            return str(first_leaf(exc))
        return None

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, cfg: Any, runtime: Any, tg: TaskGroup
    ) -> None:
        from stargraph.serve.app import attach_runtime, create_app

        app = create_app(sniffio.current_async_library(), api_token=cfg.serve.api_token)
        attach_runtime(app, runtime)
        inner = _InnerLifespan(app, scope, tg)
        if (failure := await inner.step("startup")) is not None:
            raise RuntimeError(f"app startup failed: {failure}")
        self._app = AccessLog(DrainBody(app))
        log_event(logger, "serve.asgi.started", backend=sniffio.current_async_library())
        await send({"type": "lifespan.startup.complete"})
        self._started = True
        await receive()  # lifespan.shutdown: Hypercorn stopped accepting and drained requests
        self._app = None
        await inner.step("shutdown")
        tg.cancel_scope.cancel()


async def _not_ready(scope: Scope, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = b'{"error":{"code":"not_ready","message":"the runtime is not started yet"}}'
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1")],
        }
    )
    await send({"type": "http.response.body", "body": body})


_hypercorn_trio.install()
app = StargraphASGI(setup_logging=True)
