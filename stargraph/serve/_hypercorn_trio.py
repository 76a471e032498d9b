"""Three fixes for Hypercorn's trio worker, installed by :func:`install` for both serve paths.

Upstream form: ``docs/upstream/hypercorn-trio-close-and-accept.patch`` (see its README).

1. **Closing a connection is cancelled** (``Connection: close``, HTTP/1.0, an early response
   whose body was not read). Hypercorn closes the socket from inside the app's ``send`` call
   (``TCPServer.protocol_send(Closed())``). QuartTrio cancels its own request scope as soon as
   Hypercorn delivers ``http.disconnect`` (which happens inside that same call), so the first
   checkpoint of ``TCPServer._close`` raises ``Cancelled``: the socket is never closed and the
   client waits for EOF forever. Fix: the close runs shielded, bounded by ``CLOSE_TIMEOUT``
   (a plain socket closes at once; only a TLS close_notify could wait).
2. **Accepting one connection per scheduler pass.** ``trio.SocketListener.accept`` yields after
   every accepted socket, so under a burst the accept queue (``--backlog``, 100 by default)
   overflows and the kernel drops SYNs (clients wait 1, 3, 7, 15 s for a retransmit).
   asyncio accepts up to ``backlog`` sockets per readiness event. Fix: a listener that, after
   each awaited accept, takes every connection already queued (up to ``ACCEPT_BATCH``).
3. **An overloaded server closes connections whose request is waiting unread.** The keep-alive
   timer (``keep_alive_timeout``, 5 s) starts when a connection is accepted and stops when its
   request is parsed. When the server needs longer than that to reach a freshly accepted
   connection (a burst of 2,000: each scheduler pass runs every active connection), it closes
   connections whose request already sits in the kernel buffer: the client gets EOF and no
   answer. Fix: when the timer fires and bytes are waiting to be read, or bytes arrived since
   the timer started (checked ``IDLE_GRACE`` later: a read that took the bytes may still be in
   its scheduling checkpoint), the client was not idle; keep the connection and wait again.

Only Hypercorn 0.18 is tested; on any other version :func:`install` logs
``serve.hypercorn_trio.untested`` and leaves Hypercorn alone.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import select
import socket as stdlib_socket
import types
from collections import deque
from typing import Any

import trio

from stargraph._log import log_event

__all__ = ["ACCEPT_BATCH", "TESTED_VERSIONS", "BurstSocketListener", "install", "installed"]

TESTED_VERSIONS = ("0.18",)
ACCEPT_BATCH = 256
CLOSE_TIMEOUT = 5.0
IDLE_GRACE = 1.0
logger = logging.getLogger("stargraph.serve")
_state = {"installed": False}


class BurstSocketListener(trio.abc.Listener[trio.SocketStream]):
    """A :class:`trio.SocketListener` that drains the accept queue in one pass."""

    def __init__(self, socket: trio.socket.SocketType) -> None:
        self.socket = socket
        self._inner = trio.SocketListener(socket)
        fd = os.dup(socket.fileno())  # same listening socket, usable without trio's wrapper
        self._raw = stdlib_socket.socket(socket.family, socket.type, fileno=fd)
        self._raw.setblocking(False)
        self._ready: deque[trio.SocketStream] = deque()

    async def accept(self) -> trio.SocketStream:
        """Return a queued connection, or wait for one and queue the rest of the burst."""
        if self._ready:
            return self._ready.popleft()
        stream = await self._inner.accept()
        self._take_queued()
        return stream

    def _take_queued(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self._raw.accept()
            except OSError:  # BlockingIOError when empty; ECONNABORTED etc.: next await
                return
            self._ready.append(trio.SocketStream(trio.socket.from_stdlib_socket(conn)))

    async def aclose(self) -> None:
        """Close the listener, its duplicate descriptor and any connection not handed out."""
        self._raw.close()
        while self._ready:
            await self._ready.popleft().aclose()
        await self._inner.aclose()


def _shielded_tcp_server(base: type[Any]) -> type[Any]:
    """Subclass Hypercorn's trio ``TCPServer`` so that closing cannot be cancelled half-way."""

    class TCPServer(base):  # type: ignore[misc]
        async def _close(self) -> None:
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + CLOSE_TIMEOUT  # TLS close_notify
                await super()._close()

        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.stream: Any = _CountingStream(args[-1])  # (app, config, context, state, stream)

        async def _idle_timeout(self) -> None:
            while True:
                seen = self.stream.received
                with trio.move_on_after(self.config.keep_alive_timeout):
                    await self.context.terminated.wait()
                    break  # the server is stopping: close idle connections now
                if not _unread_bytes(self.stream):
                    await trio.sleep(IDLE_GRACE)  # a read may be finishing its checkpoint
                    if self.stream.received == seen:
                        break  # the client really was idle
            with trio.CancelScope(shield=True):
                await self._initiate_server_close()

    TCPServer.__qualname__ = TCPServer.__name__ = "StargraphTCPServer"
    return TCPServer


class _CountingStream:
    """Delegates to a trio stream and counts the bytes received through it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.received = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data: bytes | bytearray = await self._stream.receive_some(max_bytes)
        self.received += len(data) or 1  # an EOF is activity too
        return data


def _unread_bytes(stream: Any) -> bool:
    """True when the kernel holds bytes (or an EOF) that the server has not read yet."""
    sock = getattr(stream, "transport_stream", stream).socket
    try:
        readable, _, _ = select.select([sock.fileno()], [], [], 0)
    except (OSError, ValueError):  # closed meanwhile
        return False
    return bool(readable)


def _trio_namespace() -> types.ModuleType:
    """``trio`` for ``hypercorn.trio.run``, with :class:`BurstSocketListener` as SocketListener."""

    class Namespace(types.ModuleType):
        SocketListener = BurstSocketListener

        def __getattr__(self, name: str) -> Any:
            return getattr(trio, name)

    return Namespace("trio", "trio, as seen by hypercorn.trio.run (patched by stargraph)")


def _version() -> str:
    try:
        return importlib.metadata.version("hypercorn")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def installed() -> bool:
    """True once :func:`install` has patched Hypercorn's trio worker in this process."""
    return _state["installed"]


def install() -> bool:
    """Patch ``hypercorn.trio.run`` (idempotent); return whether the fixes are in place."""
    if _state["installed"]:
        return True
    version = _version()
    run = importlib.import_module("hypercorn.trio.run")
    names = vars(run)  # worker_serve looks both up at each call
    server: Any = names.get("TCPServer")
    hooks = ("_close", "_idle_timeout", "_initiate_server_close")
    shape_ok = "trio" in names and all(hasattr(server, hook) for hook in hooks)
    if ".".join(version.split(".")[:2]) not in TESTED_VERSIONS or not shape_ok:
        log_event(
            logger,
            "serve.hypercorn_trio.untested",
            logging.WARNING,
            version=version,
            tested=",".join(TESTED_VERSIONS),
            effect="trio fixes NOT applied: Connection: close may hang, bursts may drop SYNs",
        )
        return False
    names.update(TCPServer=_shielded_tcp_server(server), trio=_trio_namespace())
    _state["installed"] = True
    return True
