"""``/v1/runs``: enqueue (same path as ``stargraph run``), list, show, cancel and retry runs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from quart import Blueprint, jsonify, request

from stargraph.scheduler.cancel import cancel_unless_finished
from stargraph.scheduler.rerun import retry_run
from stargraph.serve._auth import require_token
from stargraph.serve._errors import ApiError
from stargraph.serve._state import current_runtime
from stargraph.store.base import RunFilter, RunStatus, attempt_history
from stargraph.triggers import MAX_KEY_LENGTH
from stargraph.views import run_to_json

__all__ = ["MAX_LIMIT", "parse_instant", "runs_bp"]

MAX_LIMIT = 1000
_BODY_KEYS = {"graph_id", "params", "idempotency_key", "not_before"}
_QUERY_KEYS = {"graph_id", "status", "trigger_id", "limit", "cursor"}

runs_bp = Blueprint("stargraph_runs", __name__)
runs_bp.before_request(require_token)


async def _json_body() -> dict[str, Any]:
    raw = await request.get_data(as_text=False)
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_json", f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_body", "the request body must be a JSON object")
    return body


def _run_request(body: dict[str, Any]) -> tuple[str, Any, str | None]:
    if unknown := sorted(body.keys() - _BODY_KEYS):
        raise ApiError(
            400,
            "bad_body",
            f"unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(_BODY_KEYS))}",
        )
    graph_id, key = body.get("graph_id"), body.get("idempotency_key")
    if not isinstance(graph_id, str) or not graph_id:
        raise ApiError(400, "bad_body", "graph_id must be a non-empty string")
    if key is not None and (not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH):
        raise ApiError(
            400,
            "bad_body",
            f"idempotency_key must be a non-empty string of at most "
            f"{MAX_KEY_LENGTH} characters, or null",
        )
    params = body.get("params")
    if params is not None and not isinstance(params, dict):
        raise ApiError(422, "invalid_params", "params must be a JSON object")
    return graph_id, params, key


def parse_instant(value: object, field: str) -> datetime:
    """An ISO-8601 instant with an offset; ApiError 400 naming *field* otherwise."""
    if not isinstance(value, str):
        raise ApiError(400, "bad_body", f"{field} must be an ISO-8601 string, got {value!r}")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(
            400, "bad_body", f"{field} {value!r} is not ISO-8601 (2026-12-05T14:05:00+01:00)"
        ) from None
    if when.utcoffset() is None:
        raise ApiError(
            400, "bad_body", f"{field} {value!r} has no UTC offset; add one such as +00:00 or Z"
        )
    return when


@runs_bp.post("/v1/runs")
async def create_run() -> Any:
    """Enqueue a run durably; answer 202 once it is committed (``not_before`` delays it)."""
    body = await _json_body()
    graph_id, params, key = _run_request(body)
    raw = body.get("not_before")
    not_before = None if raw is None else parse_instant(raw, "not_before")
    scheduler = current_runtime().scheduler
    done = await scheduler.submit(
        graph_id, params, key, trigger_source="manual", not_before=not_before
    )
    status = "pending"  # as committed; an existing run (deduplicated) may be further along
    if done.deduplicated:
        status = str((await scheduler.get_run(done.run_id)).status)
    body = {"run_id": done.run_id, "status": status, "deduplicated": done.deduplicated}
    return jsonify(body), 202, {"Location": f"/v1/runs/{done.run_id}"}


def _filter() -> tuple[RunFilter, int, str | None]:
    args = request.args
    if unknown := sorted(set(args.keys()) - _QUERY_KEYS):
        raise ApiError(400, "bad_filter", f"unknown query parameter(s) {', '.join(unknown)}")
    status = args.get("status") or None
    if status is not None and status not in RunStatus.__members__:
        raise ApiError(
            400,
            "bad_filter",
            f"status must be one of {', '.join(RunStatus.__members__)}, got {status!r}",
        )
    limit_text = args.get("limit", "50")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise ApiError(
            400, "bad_filter", f"limit must be an integer 1..{MAX_LIMIT}, got {limit_text!r}"
        )
    flt = RunFilter(
        graph_id=args.get("graph_id") or None,
        trigger_id=args.get("trigger_id") or None,
        status=RunStatus(status) if status else None,
    )
    return flt, int(limit_text), args.get("cursor") or None


@runs_bp.get("/v1/runs")
async def list_runs() -> Any:
    """List runs newest first, filtered, one page at a time."""
    flt, limit, cursor = _filter()
    try:
        page = await current_runtime().scheduler.list_runs(flt, limit=limit, cursor=cursor)
    except ValueError as exc:
        raise ApiError(400, "bad_cursor", f"invalid cursor {cursor!r}: {exc}") from None
    return {"items": [run_to_json(r) for r in page.items], "next_cursor": page.next_cursor}


@runs_bp.get("/v1/runs/<run_id>")
async def get_run(run_id: str) -> Any:
    """Show one run with every attempt (error and traceback included)."""
    scheduler = current_runtime().scheduler
    run = await scheduler.get_run(run_id)
    earlier = await scheduler.store.list_attempts(run_id)
    return run_to_json(run, attempt_history(run, earlier))


@runs_bp.post("/v1/runs/<run_id>/cancel")
async def cancel_run(run_id: str) -> Any:
    """Cancel a pending or running run; 409 ``run_finished`` once it has ended."""
    return run_to_json(await cancel_unless_finished(current_runtime().scheduler, run_id))


@runs_bp.post("/v1/runs/<run_id>/retry")
async def retry(run_id: str) -> Any:
    """Enqueue a new run retrying a finished one; 409 ``run_not_finished`` before it ended."""
    done = await retry_run(current_runtime().scheduler, run_id)
    status = "pending"
    if done.deduplicated:  # this run was retried before: its retry may be further along
        status = str((await current_runtime().scheduler.get_run(done.run_id)).status)
    body = {
        "run_id": done.run_id,
        "status": status,
        "deduplicated": done.deduplicated,
        "retry_of": run_id,
    }
    return jsonify(body), 202, {"Location": f"/v1/runs/{done.run_id}"}
