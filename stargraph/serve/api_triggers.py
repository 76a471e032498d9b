"""``/v1/triggers`` and ``/v1/plugins``: what is hosted, its state, and operator controls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from quart import Blueprint, jsonify

from stargraph.serve._errors import ApiError
from stargraph.serve._input import check_text, json_object_body, optional_json_object_body
from stargraph.serve._state import current_runtime
from stargraph.serve._triggers import (
    describe_all,
    describe_one,
    find_trigger,
    fire,
    pause,
    plugin_statuses,
    resume,
)
from stargraph.serve.api_runs import parse_instant
from stargraph.views import iso, plugin_to_json, run_to_json

__all__ = ["triggers_bp"]

triggers_bp = Blueprint("stargraph_triggers", __name__)


@triggers_bp.get("/v1/triggers")
async def list_triggers() -> Any:
    """List every trigger id with its plugin, state, pause flag and fires."""
    return {"items": await describe_all(current_runtime())}


async def _note() -> str | None:
    body = await optional_json_object_body()
    if body is None:
        return None
    if body.keys() - {"note"}:
        raise ApiError(400, "bad_body", 'the body must be {"note": "..."} or empty')
    if "note" not in body:
        return None
    note = body["note"]
    if not isinstance(note, str):
        raise ApiError(400, "bad_body", "note must be a string (omit it for no note)")
    return check_text(note, "note")


@triggers_bp.post("/v1/triggers/<trigger_id>/pause")
async def pause_trigger(trigger_id: str) -> Any:
    """Pause a trigger (persisted); optional body ``{"note": "..."}``."""
    return await pause(current_runtime(), trigger_id, await _note())


@triggers_bp.post("/v1/triggers/<trigger_id>/resume")
async def resume_trigger(trigger_id: str) -> Any:
    """Resume a paused trigger from now (no catch-up burst)."""
    return await resume(current_runtime(), trigger_id)


@triggers_bp.post("/v1/triggers/<trigger_id>/fire")
async def fire_trigger(trigger_id: str) -> Any:
    """Enqueue one run of the trigger now; 202 with the run."""
    runtime = current_runtime()
    done = await fire(runtime, trigger_id)
    run = await runtime.scheduler.get_run(done.run_id)
    return jsonify(dict(run_to_json(run), deduplicated=done.deduplicated)), 202


_BACKFILL_KEYS = {"from", "to", "dry_run"}


async def _backfill_body() -> tuple[datetime, datetime, bool]:
    body = await json_object_body()
    if body.keys() - _BACKFILL_KEYS or not {"from", "to"} <= body.keys():
        raise ApiError(
            400, "bad_body", 'the body must be {"from": ISO, "to": ISO, "dry_run": false}'
        )
    dry = body.get("dry_run", False)
    if not isinstance(dry, bool):
        raise ApiError(400, "bad_body", f"dry_run must be true or false, got {dry!r:.40}")
    return parse_instant(body["from"], "from"), parse_instant(body["to"], "to"), dry


@triggers_bp.post("/v1/triggers/<trigger_id>/backfill")
async def backfill_trigger(trigger_id: str) -> Any:
    """Enqueue one run per planned fire in [from, to] with the live fire's key (cron, interval)."""
    start, end, dry = await _backfill_body()
    _, obj = find_trigger(current_runtime(), trigger_id)
    backfill = getattr(obj, "backfill", None)
    if backfill is None:
        raise ApiError(
            409, "no_backfill", f"trigger {trigger_id!r} has no planned fires to backfill "
            "(only cron and interval triggers do)",
        )  # fmt: skip
    result = await backfill(trigger_id, start, end, dry_run=dry)
    body: dict[str, Any] = {
        "planned": result.planned, "enqueued": result.enqueued,
        "deduplicated": result.deduplicated, "first": iso(result.first), "last": iso(result.last),
        "dry_run": dry,
    }  # fmt: skip
    if result.instants is not None:
        body["instants"] = [iso(i) for i in result.instants]
    return jsonify(body), 200


@triggers_bp.get("/v1/triggers/<trigger_id>")
async def get_trigger(trigger_id: str) -> Any:
    """Show one trigger id."""
    return await describe_one(current_runtime(), trigger_id)


@triggers_bp.get("/v1/plugins")
async def list_plugins() -> Any:
    """List every registered plugin: running, failed (with the reason), disabled, ..."""
    statuses = plugin_statuses(current_runtime())
    return {
        "items": [
            plugin_to_json(s.name, str(getattr(s.state, "value", s.state)), s.error)
            for s in statuses
        ]
    }
