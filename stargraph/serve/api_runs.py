"""``/v1/runs``: enqueue (same path as ``stargraph run``), list, show, cancel and retry runs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from quart import Blueprint, jsonify, request

from stargraph.errors import RunNotFound
from stargraph.scheduler.cancel import cancel_unless_finished
from stargraph.scheduler.rerun import retry_run
from stargraph.serve._errors import ApiError
from stargraph.serve._input import ascii_int, check_text, json_object_body
from stargraph.serve._state import current_runtime
from stargraph.store.base import RunFilter, RunStatus, attempt_history
from stargraph.triggers import MAX_KEY_LENGTH
from stargraph.views import DEFAULT_LIST_LIMIT, run_to_json

if TYPE_CHECKING:
    from stargraph.scheduler import Scheduler
    from stargraph.store.base import Attempt, Run, RunPage

__all__ = [
    "CURSOR_PATTERN",
    "FILTER_KEYS",
    "MAX_LIMIT",
    "list_page",
    "parse_instant",
    "run_filter",
    "run_with_attempts",
    "runs_bp",
]

MAX_LIMIT = 1000
_BODY_KEYS = {"graph_id", "params", "idempotency_key", "not_before"}
FILTER_KEYS = frozenset(
    {"graph_id", "status", "trigger_id", "trigger_source", "limit", "cursor", "since", "until"}
)
"""The query parameters of ``GET /v1/runs`` (the console's run filters use the same names)."""
CURSOR_PATTERN = "^[A-Za-z0-9_-]{1,2048}$"
"""What a page cursor looks like (opaque URL-safe base64); anything else is 400 bad_cursor."""
_CURSOR = re.compile(CURSOR_PATTERN)

runs_bp = Blueprint("stargraph_runs", __name__)


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
    check_text(graph_id, "graph_id")
    if key is not None and (not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH):
        raise ApiError(
            400,
            "bad_body",
            f"idempotency_key must be a non-empty string of at most "
            f"{MAX_KEY_LENGTH} characters, or null",
        )
    if key is not None:
        check_text(key, "idempotency_key")
    params = body.get("params")
    if params is not None and not isinstance(params, dict):
        raise ApiError(422, "invalid_params", "params must be a JSON object")
    return graph_id, params, key


def parse_instant(value: object, field: str) -> datetime:
    """An ISO-8601 instant with an offset; ApiError 400 naming *field* otherwise."""
    if not isinstance(value, str):
        raise ApiError(400, "bad_body", f"{field} must be an ISO-8601 string, got {value!r:.40}")
    check_text(value, field)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(
            400, "bad_body", f"{field} {value!r:.40} is not ISO-8601 (2026-12-05T14:05:00+01:00)"
        ) from None
    if when.utcoffset() is None:
        raise ApiError(
            400, "bad_body", f"{field} {value!r:.40} has no UTC offset; add one such as +00:00 or Z"
        )
    return when


@runs_bp.post("/v1/runs")
async def create_run() -> Any:
    """Enqueue a run durably; answer 202 once it is committed (``not_before`` delays it)."""
    body = await json_object_body()
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


def _query() -> dict[str, str]:
    args = request.args
    if unknown := sorted(set(args.keys()) - FILTER_KEYS):
        raise ApiError(400, "bad_filter", f"unknown query parameter(s) {', '.join(unknown)}")
    out = {}
    for name in FILTER_KEYS & set(args.keys()):
        if len(args.getlist(name)) > 1:
            raise ApiError(400, "bad_filter", f"{name} is given more than once")
        value = args.get(name, "")
        if not value:
            raise ApiError(400, "bad_filter", f"{name} is empty; omit it to not filter by it")
        out[name] = check_text(value, name, "bad_filter")
    return out


def run_filter(args: Mapping[str, str]) -> tuple[RunFilter, int, str | None]:
    """``(filter, limit, cursor)`` from non-empty *args* named as in :data:`FILTER_KEYS`.

    Raises ApiError 400 ``bad_filter`` / ``bad_cursor`` naming the bad value.
    """
    status = args.get("status")
    if status is not None and status not in RunStatus.__members__:
        raise ApiError(
            400,
            "bad_filter",
            f"status must be one of {', '.join(RunStatus.__members__)}, got {status!r:.40}",
        )
    limit = ascii_int(
        args.get("limit", str(DEFAULT_LIST_LIMIT)), "limit", 1, MAX_LIMIT, "bad_filter"
    )
    cursor = args.get("cursor")
    if cursor is not None and not _CURSOR.fullmatch(cursor):
        raise ApiError(
            400, "bad_cursor", "cursor must be the next_cursor of a previous page, unchanged"
        )
    flt = RunFilter(
        graph_id=args.get("graph_id"),
        trigger_id=args.get("trigger_id"),
        trigger_source=args.get("trigger_source"),
        status=RunStatus(status) if status else None,
        enqueued_after=_instant("since", args.get("since")),
        enqueued_before=_instant("until", args.get("until")),
    )
    return flt, limit, cursor


def _instant(name: str, text: str | None) -> datetime | None:
    """``since`` (enqueued at or after) / ``until`` (before): ISO-8601 with an offset."""
    if not text:
        return None
    text = re.sub(r" (\d\d:\d\d)$", r"+\1", text)  # an unencoded '+' arrives as a space
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ApiError(
            400,
            "bad_filter",
            f"{name} must be an ISO-8601 instant with an offset such as "
            f"2026-12-01T09:00:00Z, got {text!r}",
        )
    return value


async def list_page(
    scheduler: Scheduler, flt: RunFilter, limit: int, cursor: str | None
) -> RunPage:
    """One page of runs (``GET /v1/runs`` and the console); a stale cursor is 400."""
    try:
        return await scheduler.list_runs(flt, limit=limit, cursor=cursor)
    except ValueError as exc:
        raise ApiError(400, "bad_cursor", f"invalid cursor: {exc}") from None


async def run_with_attempts(scheduler: Scheduler, run_id: str) -> tuple[Run, list[Attempt]]:
    """One run and every attempt of it; RunNotFound (404) when there is none."""
    run = await scheduler.get_run(_run_id(run_id))
    earlier = await scheduler.store.list_attempts(run.run_id)
    return run, attempt_history(run, earlier)


@runs_bp.get("/v1/runs")
async def list_runs() -> Any:
    """List runs newest first, filtered (``since``/``until`` bound ``enqueued_at``), one page at
    a time."""
    flt, limit, cursor = run_filter(_query())
    page = await list_page(current_runtime().scheduler, flt, limit, cursor)
    return {"items": [run_to_json(r) for r in page.items], "next_cursor": page.next_cursor}


@runs_bp.get("/v1/runs/<run_id>")
async def get_run(run_id: str) -> Any:
    """Show one run with every attempt (error and traceback included)."""
    return run_to_json(*await run_with_attempts(current_runtime().scheduler, run_id))


@runs_bp.post("/v1/runs/<run_id>/cancel")
async def cancel_run(run_id: str) -> Any:
    """Cancel a pending or running run; 409 ``run_finished`` once it has ended."""
    return run_to_json(await cancel_unless_finished(current_runtime().scheduler, _run_id(run_id)))


@runs_bp.post("/v1/runs/<run_id>/retry")
async def retry(run_id: str) -> Any:
    """Enqueue a new run retrying a finished one; 409 ``run_not_finished`` before it ended."""
    done = await retry_run(current_runtime().scheduler, _run_id(run_id))
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


def _run_id(run_id: str) -> str:
    """A path's run id; one no store can hold (NUL, lone surrogate) is a run not found."""
    try:
        return check_text(run_id, "run_id")
    except ApiError:
        raise RunNotFound(run_id.encode("utf-8", "backslashreplace").decode()) from None
