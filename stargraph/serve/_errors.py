"""JSON error answers for the app: ``{"error": {"code", "message"}}`` for every failure, never HTML.

Handlers raise :class:`ApiError` for bad input; Stargraph errors map to their status through the
one table in ``stargraph._http`` (shared with the webhook routes): a ``StoreError`` is ``503
unavailable`` with ``Retry-After`` and a fixed message (its detail is logged); an unexpected
exception is logged and answered 500 ``internal`` without its details.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from quart import Quart
from werkzeug.exceptions import HTTPException

from stargraph._http import HTTP_CODES, ApiError, answer_for, error_response
from stargraph._log import log_event
from stargraph.errors import StargraphError, StoreError, describe_error

__all__ = ["ApiError", "error_response", "install_error_handlers"]

logger = logging.getLogger("stargraph.serve")


async def _api_error(exc: ApiError) -> Any:
    return exc.response()


async def _stargraph_error(exc: StargraphError) -> Any:
    if isinstance(exc, StoreError):  # the answer hides the detail (a path, a server): log it
        log_event(logger, "http.store_failed", logging.ERROR, error=describe_error(exc))
        from stargraph.serve._state import current_state  # _state imports this module

        current_state().store_failed_at = time.monotonic()
    return answer_for(exc).response()


async def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    code = HTTP_CODES.get(status, "http_error")
    allowed = getattr(exc, "valid_methods", None)
    headers = {"Allow": ", ".join(allowed)} if allowed else {}
    return error_response(status, code, exc.description or code, headers)


async def _unexpected(exc: Exception) -> Any:
    log_event(logger, "http.error", logging.ERROR, error_type=type(exc).__name__, error=str(exc))
    return error_response(500, "internal", "internal error; see the server log")


def install_error_handlers(app: Quart) -> None:
    """Register the JSON error handlers on *app*."""
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(StargraphError, _stargraph_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
