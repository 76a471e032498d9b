"""Run an app under Hypercorn on asyncio or trio, and the whole ``stargraph serve`` process.

:func:`serve_app` is cancel-safe: Hypercorn runs in a shielded scope with its own shutdown
trigger, and both a ``stop`` event and cancellation of the caller set that trigger, so the
server always shuts down gracefully (lifespan shutdown runs, the port closes) within ``grace``.
"""

from __future__ import annotations

import importlib
import logging
import signal
import socket
from typing import Any

import anyio
import sniffio
from anyio.abc import TaskStatus
from hypercorn.config import Config as HypercornConfig

from stargraph._log import log_event
from stargraph.config import StargraphConfig, parse_bind
from stargraph.errors import ConfigError
from stargraph.runtime import Runtime
from stargraph.serve import _hypercorn_trio
from stargraph.serve._access import AccessLog
from stargraph.serve._auth import is_loopback
from stargraph.serve._drain import DrainBody
from stargraph.serve.app import attach_runtime, create_app

__all__ = ["bind_socket", "check_bind", "serve_app", "serve_config"]

logger = logging.getLogger("stargraph.serve")
BACKLOG = 2048  # listen() queue; the kernel caps it at net.core.somaxconn


def bind_socket(host: str, port: int) -> socket.socket:
    """Return a listening TCP socket on *host*:*port* (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _hypercorn_config(sock: socket.socket, grace: float) -> HypercornConfig:
    config = HypercornConfig()
    config.bind = [f"fd://{sock.dup().detach()}"]  # Hypercorn owns the duplicate
    config.graceful_timeout = grace
    config.backlog = BACKLOG  # Hypercorn listens again on the socket with this backlog
    config.accesslog = None  # the AccessLog middleware writes http.access instead
    config.errorlog = logging.getLogger("hypercorn.error")  # as configure_logging set it up
    return config


def _hypercorn_serve() -> Any:
    """Return ``hypercorn.trio.serve`` (with Stargraph's fixes) or ``hypercorn.asyncio.serve``."""
    backend = "trio" if sniffio.current_async_library() == "trio" else "asyncio"
    if backend == "trio":
        _hypercorn_trio.install()
    return importlib.import_module(f"hypercorn.{backend}").serve


async def serve_app(
    app: Any,
    *,
    sock: socket.socket,
    stop: anyio.Event | None = None,
    grace: float = 10.0,
    task_status: TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve *app* on the listening *sock* until *stop* is set or the caller is cancelled.

    Reports ``(host, port)`` through *task_status* once Hypercorn is serving the socket.
    An unread request body is drained before an early response ends (:class:`DrainBody`).
    """
    serve = _hypercorn_serve()
    config = _hypercorn_config(sock, grace)
    internal = anyio.Event()
    shield = anyio.CancelScope(shield=True)

    async def run() -> None:
        with shield:
            await serve(DrainBody(app), config, shutdown_trigger=internal.wait)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        try:
            task_status.started(sock.getsockname()[:2])
            await (stop.wait() if stop is not None else anyio.sleep_forever())
        finally:
            internal.set()  # graceful shutdown on stop OR cancellation
            shield.deadline = anyio.current_time() + grace + 2.0


def check_bind(host: str, token: str | None, insecure: bool) -> None:
    """Refuse a non-loopback *host* without an API token unless *insecure* is set."""
    if token or insecure or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to listen on {host} without an API token: set the variable named by "
        "[serve] api_token_env (default STARGRAPH_API_TOKEN), or allow it explicitly with "
        "[serve] allow_insecure_bind = true / --insecure"
    )


async def _on_signal(stop: anyio.Event) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log_event(logger, "serve.stopping", signal=signal.Signals(signum).name)
            stop.set()
            return


async def serve_config(cfg: StargraphConfig, *, insecure: bool = False) -> None:
    """Run the whole runtime and its HTTP surface until SIGTERM/SIGINT (``stargraph serve``).

    Order: store → scheduler → plugins → ``trigger_init`` → routes mounted → triggers started
    → HTTP listening. On a signal: stop accepting, stop triggers, drain runs, close the store.
    """
    host, port = parse_bind(cfg.serve.bind, source="[serve] bind")
    check_bind(host, cfg.serve.api_token, insecure or cfg.serve.allow_insecure_bind)
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_on_signal, stop)
        async with Runtime.from_config(cfg) as runtime:
            app = create_app(sniffio.current_async_library(), api_token=cfg.serve.api_token)
            attach_runtime(app, runtime)
            with bind_socket(host, port) as sock:
                bound = sock.getsockname()
                log_event(
                    logger,
                    "serve.listening",
                    url=f"http://{host}:{bound[1]}",
                    backend=sniffio.current_async_library(),
                )
                await serve_app(
                    AccessLog(app), sock=sock, stop=stop, grace=cfg.serve.graceful_timeout
                )
            log_event(logger, "serve.draining")
        tg.cancel_scope.cancel()
    log_event(logger, "serve.stopped")
