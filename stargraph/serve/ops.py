"""Operations routes: ``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``."""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint, Response, current_app

from stargraph.serve._errors import error_response
from stargraph.serve._ready import REASONS, store_not_ready
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
    """Readiness: the runtime is attached, its triggers started and its store commits."""
    runtime = current_state().runtime
    if runtime is None or not runtime.ready:
        return error_response(503, "not_ready", "the runtime is not ready", {"Retry-After": "1"})
    if (reason := await store_not_ready(current_state(), runtime)) is not None:
        return error_response(503, reason, REASONS[reason], {"Retry-After": "5"})
    failed = [s for s in runtime.host.statuses() if s.state == "failed"]
    if failed:
        names = "; ".join(f"{s.name} ({s.error or 'failed'})" for s in failed)
        return error_response(503, "trigger_failed", f"trigger plugin(s) failed: {names}")
    degraded = _degraded(runtime)
    return {"status": "ready", "degraded": degraded} if degraded else {"status": "ready"}


def _degraded(runtime: Any) -> list[dict[str, Any]]:
    """Hosted plugins waiting to restart (a queue trigger whose broker is down, with the
    connection error): the node serves, but says why they do not run."""
    return [
        {"plugin": s.name, "state": str(s.state), "error": s.error}
        for s in runtime.host.statuses()
        if str(s.state) == "restarting"
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
    return build_openapi(current_app, token=current_state().api_token is not None)
