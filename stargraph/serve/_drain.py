"""Read and discard an unread request body before an early response ends (keep-alive safety).

When the app answers before reading the body (401, 404, 405, 413, 503 ...), HTTP/1.1 can only
reuse the connection once the rest of that body has arrived. :class:`DrainBody` wraps an ASGI
app: before the last ``http.response.body`` message goes out it receives (and drops) up to
``DRAIN_LIMIT`` bytes for at most ``DRAIN_SECONDS``, so Hypercorn can start the next request on
the same connection. A body that is announced as larger than that gets ``Connection: close`` on
its response instead, and one that does not arrive in time makes Hypercorn close the connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

__all__ = ["DRAIN_LIMIT", "DRAIN_SECONDS", "DrainBody"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DRAIN_LIMIT = 1024 * 1024
DRAIN_SECONDS = 5.0


def _declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, 0 for no body, ``None`` for a chunked body."""
    length = 0
    for name, value in scope.get("headers", ()):
        if name.lower() == b"transfer-encoding":
            return None
        if name.lower() == b"content-length" and value.strip().isdigit():
            length = int(value)
    return length


class _Exchange:
    """One HTTP request/response: tracks how much body arrived and drains the rest."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self._inner = receive
        self._expected = _declared_length(scope)
        self._received = 0
        self._closing = False
        self._done = anyio.Event()
        if self._expected == 0:
            self._done.set()

    async def receive(self) -> Message:
        message = await self._inner()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            self._done.set()
        self._received += len(message.get("body", b""))
        return message

    def start(self, message: Message) -> Message:
        """Add ``Connection: close`` when the unread rest of the body is over the limit."""
        if self._done.is_set() or self._expected is None:
            return message
        if self._expected - self._received <= DRAIN_LIMIT:
            return message
        self._closing = True
        headers = [*message.get("headers", ()), (b"connection", b"close")]
        return {**message, "headers": headers}

    async def drain(self) -> None:
        """Receive and drop the rest of the body (bounded), unless the connection will close."""
        if self._done.is_set() or self._closing:
            return
        with anyio.move_on_after(DRAIN_SECONDS):
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._pull)
                await self._done.wait()  # the app's own receiver may get the last chunk
                tg.cancel_scope.cancel()

    async def _pull(self) -> None:
        while not self._done.is_set() and self._received <= DRAIN_LIMIT:
            await self.receive()
        self._done.set()  # over the limit: stop; Hypercorn closes the connection


class DrainBody:
    """ASGI middleware: drain an unread request body before the response's last message."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(scope, receive)

        async def send_drained(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = exchange.start(message)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                await exchange.drain()
            await send(message)

        await self.app(scope, exchange.receive, send_drained)
