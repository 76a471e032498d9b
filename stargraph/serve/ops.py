"""Operations routes: ``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from quart import Blueprint, Response, current_app

from stargraph._log import log_event
from stargraph.serve._errors import error_response
from stargraph.serve._state import current_runtime, current_state
from stargraph.serve.openapi import build_openapi

__all__ = ["ops_bp"]

logger = logging.getLogger("stargraph.serve")
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"

ops_bp = Blueprint("stargraph_ops", __name__)


@ops_bp.get("/healthz")
async def healthz() -> Any:
    """Liveness: the process answers."""
    return {"status": "ok"}


@ops_bp.get("/readyz")
async def readyz() -> Any:
    """Readiness: the runtime is attached, its store answers and its triggers started."""
    runtime = current_state().runtime
    if runtime is None or not runtime.ready:
        return error_response(503, "not_ready", "the runtime is not ready", {"Retry-After": "1"})
    try:
        with anyio.fail_after(5):
            await runtime.store.ping()
    except Exception as exc:
        log_event(logger, "http.readyz.failed", logging.WARNING, error_type=type(exc).__name__)
        return error_response(503, "store_unreachable", f"the store does not answer: {exc}")
    degraded = _degraded(runtime)
    return {"status": "ready", "degraded": degraded} if degraded else {"status": "ready"}


def _degraded(runtime: Any) -> list[dict[str, Any]]:
    """Hosted plugins that are not running (a queue trigger whose broker is down is
    ``restarting`` with the connection error): the node serves, but says why they do not."""
    return [
        {"plugin": s.name, "state": str(s.state), "error": s.error}
        for s in runtime.host.statuses()
        if str(s.state) in ("restarting", "failed")
    ]


@ops_bp.get("/metrics")
async def metrics() -> Any:
    """Prometheus text: the runtime's registry, queue depth counted in the store per scrape.

    This is the only place ``stargraph_queue_depth`` is refreshed (the count is linear in the
    retained runs, so it is paid per scrape, not per maintenance pass); the trigger host owns
    ``stargraph_trigger_state``.
    """
    runtime = current_runtime()
    runtime.metrics.set_queue_depth(await runtime.store.count_by_status())
    return Response(runtime.metrics.render(), status=200, content_type=PROMETHEUS_TYPE)


@ops_bp.get("/openapi.json")
async def openapi() -> Any:
    """The OpenAPI 3.1 document of this app's real routes."""
    return build_openapi(current_app)
