"""JSON error responses: ``{"error": {"code", "message"}}`` for every failure, never HTML.

Handlers raise :class:`ApiError` for bad input; Stargraph errors map to their status here; an
unexpected exception is logged and answered 500 ``internal`` without its details.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from quart import Quart, Response, jsonify
from werkzeug.exceptions import HTTPException

from stargraph._log import log_event
from stargraph.errors import (
    InvalidParams,
    RunNotFound,
    SchedulerBusy,
    SchedulerClosed,
    StargraphError,
    StargraphRuntimeError,
    TriggerNotFound,
    UnknownGraph,
)

__all__ = ["ApiError", "error_response", "install_error_handlers"]

logger = logging.getLogger("stargraph.serve")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    503: "unavailable",
}


class ApiError(Exception):
    """An error answer: HTTP *status*, machine *code*, human *message*, extra *headers*."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> tuple[Response, int, dict[str, str]]:
    """Return the JSON error body with *status* and *headers*."""
    return jsonify({"error": {"code": code, "message": message}}), status, headers or {}


def from_stargraph(exc: StargraphError) -> ApiError:
    """Map a Stargraph error to its API answer."""
    if isinstance(exc, UnknownGraph):
        return ApiError(404, "unknown_graph", str(exc))
    if isinstance(exc, RunNotFound):
        return ApiError(404, "run_not_found", str(exc))
    if isinstance(exc, TriggerNotFound):
        return ApiError(404, "trigger_not_found", str(exc))
    if isinstance(exc, InvalidParams):
        return ApiError(422, "invalid_params", str(exc))
    if isinstance(exc, SchedulerBusy):
        retry = str(max(1, math.ceil(exc.retry_after)))
        return ApiError(503, "busy", str(exc), {"Retry-After": retry})
    if isinstance(exc, SchedulerClosed):
        return ApiError(503, "unavailable", str(exc), {"Retry-After": "5"})
    if isinstance(exc, StargraphRuntimeError):
        return ApiError(409, "not_supported", str(exc))
    return ApiError(400, "bad_request", str(exc))


async def _api_error(exc: ApiError) -> Any:
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _stargraph_error(exc: StargraphError) -> Any:
    return await _api_error(from_stargraph(exc))


async def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "http_error")
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
