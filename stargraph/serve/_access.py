"""The access log: one ``http.access`` event per HTTP request, on both serving paths.

``method``, ``path`` (never the query string, which may carry a token), ``status``,
``duration_ms`` (from the request's arrival to the app's return) and ``client``. The
``stargraph.access`` logger decides: below INFO (``--no-access-log``,
``STARGRAPH_ACCESS_LOG=off``) requests pass straight through.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from stargraph._log import ACCESS_LOGGER, log_event

__all__ = ["AccessLog"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
logger = logging.getLogger(ACCESS_LOGGER)


class AccessLog:
    """ASGI middleware that logs ``http.access`` for each request *app* answers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            _log_access(scope, status, time.perf_counter() - started)


def _log_access(scope: Scope, status: int, seconds: float) -> None:
    client = scope.get("client")
    log_event(
        logger,
        "http.access",
        method=scope.get("method", "-"),
        path=scope.get("path", "-"),
        status=status or None,
        duration_ms=round(seconds * 1000, 3),
        client=f"{client[0]}:{client[1]}" if client else None,
    )
