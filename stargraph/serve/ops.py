"""Operations routes: ``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from quart import Blueprint, Response, current_app

from stargraph._log import log_event
from stargraph.serve._errors import error_response
from stargraph.serve._state import current_runtime, current_state
from stargraph.serve._triggers import plugin_states
from stargraph.serve.openapi import build_openapi
from stargraph.store.base import RunStatus

__all__ = ["ops_bp"]

logger = logging.getLogger("stargraph.serve")
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PLUGIN_STATES = ("running", "failed", "restarting", "stopped", "disabled", "load_failed")

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
    return {"status": "ready"}


async def _refresh_gauges() -> Any:
    runtime = current_runtime()
    counts = await runtime.store.count_by_status()
    for status in RunStatus:
        runtime.metrics.queue_depth.labels(status=str(status)).set(counts.get(status, 0))
    for plugin, state in plugin_states(runtime).items():
        for candidate in _PLUGIN_STATES:
            runtime.metrics.trigger_state.labels(plugin=plugin, state=candidate).set(
                1 if candidate == state else 0
            )
    return runtime


@ops_bp.get("/metrics")
async def metrics() -> Any:
    """Prometheus text: the runtime's registry, queue depth refreshed from the store."""
    runtime = await _refresh_gauges()
    return Response(runtime.metrics.render(), status=200, content_type=PROMETHEUS_TYPE)


@ops_bp.get("/openapi.json")
async def openapi() -> Any:
    """The OpenAPI 3.1 document of this app's real routes."""
    return build_openapi(current_app)
