"""The one error-code table and the one JSON writer of every HTTP answer Stargraph gives.

Both the REST API (``stargraph.serve``) and the webhook routes (``stargraph.triggers.webhook``)
answer errors as ``{"error": {"code", "message"}}`` through :func:`error_response`, and map
Stargraph's exceptions to a status and code through :func:`answer_for`, so one condition has one
code everywhere (a full intake is ``503 scheduler_busy`` on both). ``docs/api.md`` lists them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import attrs
from quart import Response

from stargraph.errors import (
    InvalidParams,
    RunAlreadyFinished,
    RunNotFinished,
    RunNotFound,
    SchedulerBusy,
    SchedulerClosed,
    StargraphError,
    StargraphRuntimeError,
    TriggerNotFound,
    UnknownGraph,
    WebhookRejected,
)

__all__ = [
    "HTTP_CODES",
    "STARGRAPH_CODES",
    "ApiError",
    "ErrorCode",
    "answer_for",
    "error_response",
    "json_response",
    "retry_after",
]


@attrs.frozen
class ErrorCode:
    """An HTTP status, its machine code and (for 503s) a fixed ``Retry-After`` in seconds."""

    status: int
    code: str
    retry_after: float | None = None


STARGRAPH_CODES: tuple[tuple[type[StargraphError], ErrorCode], ...] = (
    (UnknownGraph, ErrorCode(404, "unknown_graph")),
    (RunNotFound, ErrorCode(404, "run_not_found")),
    (TriggerNotFound, ErrorCode(404, "trigger_not_found")),
    (InvalidParams, ErrorCode(422, "invalid_params")),
    (RunAlreadyFinished, ErrorCode(409, "run_finished")),
    (RunNotFinished, ErrorCode(409, "run_not_finished")),
    (SchedulerBusy, ErrorCode(503, "scheduler_busy")),  # Retry-After: the exception's
    (SchedulerClosed, ErrorCode(503, "unavailable", retry_after=5)),
    (StargraphRuntimeError, ErrorCode(409, "not_supported")),
    (StargraphError, ErrorCode(400, "bad_request")),
)
"""Stargraph errors in match order (the first ``isinstance`` match wins)."""

HTTP_CODES: Mapping[int, str] = {
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
"""Codes for the framework's own HTTP errors (no route, wrong method, body over the limit)."""


class ApiError(Exception):
    """An error answer: HTTP *status*, machine *code*, human *message*, extra *headers*."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> Response:
        """This answer as a JSON response."""
        return error_response(self.status, self.code, self.message, self.headers)


def retry_after(seconds: float) -> dict[str, str]:
    """The ``Retry-After`` header for *seconds*, rounded up to a whole second (at least 1)."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def answer_for(exc: StargraphError) -> ApiError:
    """Map a Stargraph error to its answer through :data:`STARGRAPH_CODES`."""
    if isinstance(exc, WebhookRejected):
        return ApiError(exc.status, exc.code, str(exc))
    entry = next(code for kind, code in STARGRAPH_CODES if isinstance(exc, kind))
    headers: dict[str, str] = {}
    if isinstance(exc, SchedulerBusy):
        headers = retry_after(exc.retry_after)
    elif entry.retry_after is not None:
        headers = retry_after(entry.retry_after)
    return ApiError(entry.status, entry.code, str(exc), headers)


def json_response(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    """A compact JSON response with *status* and *headers*."""
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        mimetype="application/json",
        headers=dict(headers or {}),
    )


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The JSON error body ``{"error": {"code", "message"}}`` with *status* and *headers*."""
    return json_response(status, {"error": {"code": code, "message": message}}, headers)
