"""The OpenAPI 3.1 document, built from the app's real URL map at request time.

The core API's operations are described here in full; any other route (a webhook path, a
plugin's route) is listed from the URL map with a generic description, so the document always
names exactly the routes the app serves.
"""

from __future__ import annotations

import re
from typing import Any

from quart import Quart

from stargraph import __version__

__all__ = ["API_OPERATIONS", "app_routes", "build_openapi"]

_NULL_STR = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _err(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _op(
    summary: str,
    ok: tuple[str, dict[str, Any], str],
    *errors: tuple[str, str],
    secured: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    status, schema, text = ok
    op: dict[str, Any] = {"summary": summary, "responses": {status: _json(schema, text)}}
    for code, text in (*errors, *((("401", "missing or wrong token"),) if secured else ())):
        op["responses"][code] = _err(text)
    op["security"] = [{"bearer": []}, {}] if secured else []
    op.update(extra)
    return op


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


_RUN_BODY = {"required": True, "content": {"application/json": {"schema": _ref("RunRequest")}}}
_NOTE_BODY = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"note": {"type": "string"}},
                "additionalProperties": False,
            }
        }
    },
}
_LIST_PARAMS = [
    _query("graph_id", {"type": "string"}),
    _query("status", {"enum": ["pending", "running", "succeeded", "failed", "cancelled"]}),
    _query("trigger_id", {"type": "string"}),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}),
    _query("cursor", {"type": "string"}),
]
_ITEMS = {"Trigger": _ref("Trigger"), "Plugin": _ref("Plugin")}


def _list_of(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ITEMS[name]}},
    }


def _trigger_op(verb: str, ok: tuple[str, dict[str, Any], str]) -> dict[str, Any]:
    extra: dict[str, Any] = {"parameters": [_path_param("trigger_id")]}
    if verb == "pause":
        extra["requestBody"] = _NOTE_BODY
    return {
        "post": _op(
            f"{verb.capitalize()} a trigger",
            ok,
            ("404", "unknown trigger"),
            ("409", "not supported by this trigger"),
            ("400", "bad body"),
            **extra,
        )
    }


API_OPERATIONS: dict[str, dict[str, Any]] = {
    "/v1/runs": {
        "post": _op(
            "Enqueue a run",
            ("202", _ref("RunAccepted"), "durably enqueued"),
            ("400", "bad JSON or body"),
            ("404", "unknown graph"),
            ("422", "params is not a JSON object"),
            ("503", "scheduler_busy (see Retry-After) or unavailable"),
            requestBody=_RUN_BODY,
        ),
        "get": _op(
            "List runs, newest first",
            ("200", _ref("RunPage"), "one page"),
            ("400", "bad filter or cursor"),
            parameters=_LIST_PARAMS,
        ),
    },
    "/v1/runs/{run_id}": {
        "get": _op(
            "Show a run",
            ("200", _ref("Run"), "the run"),
            ("404", "unknown run"),
            parameters=[_path_param("run_id")],
        )
    },
    "/v1/runs/{run_id}/cancel": {
        "post": _op(
            "Cancel a run",
            ("200", _ref("Run"), "cancelled or cancel requested"),
            ("404", "unknown run"),
            ("409", "the run already finished"),
            parameters=[_path_param("run_id")],
        )
    },
    "/v1/runs/{run_id}/retry": {
        "post": _op(
            "Retry a finished run as a new run (same graph and params, retry_of set)",
            ("202", _ref("RunAccepted"), "the new run, durably enqueued (or the earlier retry)"),
            ("404", "unknown run"),
            ("409", "the run has not finished (run_not_finished)"),
            ("503", "scheduler_busy (see Retry-After) or unavailable"),
            parameters=[_path_param("run_id")],
        )
    },
    "/v1/triggers": {"get": _op("List triggers", ("200", _list_of("Trigger"), "every trigger"))},
    "/v1/triggers/{trigger_id}": {
        "get": _op(
            "Show a trigger",
            ("200", _ref("Trigger"), "the trigger"),
            ("404", "unknown trigger"),
            parameters=[_path_param("trigger_id")],
        )
    },
    "/v1/triggers/{trigger_id}/pause": _trigger_op("pause", ("200", _ref("Trigger"), "paused")),
    "/v1/triggers/{trigger_id}/resume": _trigger_op("resume", ("200", _ref("Trigger"), "resumed")),
    "/v1/triggers/{trigger_id}/fire": _trigger_op("fire", ("202", _ref("Run"), "run enqueued")),
    "/v1/triggers/{trigger_id}/backfill": {
        "post": _op(
            "Backfill a cron or interval trigger over [from, to]",
            ("200", _ref("Backfill"), "runs enqueued with live-fire keys (dry run: the plan)"),
            ("400", "bad body or a time without an offset"),
            ("404", "unknown trigger"),
            ("409", "the trigger has no planned fires"),
            ("422", "from after to, or more than 10,000 fires (the limit per call)"),
            parameters=[_path_param("trigger_id")],
            requestBody={
                "required": True,
                "content": {"application/json": {"schema": _ref("BackfillRequest")}},
            },
        )
    },
    "/v1/plugins": {"get": _op("List plugins", ("200", _list_of("Plugin"), "every plugin"))},
    "/healthz": {"get": _op("Liveness", ("200", {"type": "object"}, "alive"), secured=False)},
    "/readyz": {
        "get": _op(
            "Readiness", ("200", {"type": "object"}, "ready"), ("503", "not ready"), secured=False
        )
    },
    "/metrics": {
        "get": _op("Prometheus metrics", ("200", {"type": "string"}, "text format"), secured=False)
    },
    "/openapi.json": {
        "get": _op("This document", ("200", {"type": "object"}, "OpenAPI 3.1"), secured=False)
    },
}


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


_RUN_PROPS = {
    "run_id": {"type": "string"},
    "graph_id": {"type": "string"},
    "status": {"enum": ["pending", "running", "succeeded", "failed", "cancelled"]},
    "idempotency_key": {"type": "string"},
    "params": {"type": "object"},
    "trigger_id": _NULL_STR,
    "trigger_source": {"type": "string"},
    "scheduled_fire": _TIME,
    "not_before": _TIME,
    "backfill": {"type": "boolean"},
    "enqueued_at": _TIME,
    "started_at": _TIME,
    "finished_at": _TIME,
    "attempt": {"type": "integer"},
    "max_attempts": {"type": "integer"},
    "interruptions": {"type": "integer"},
    "max_interruptions": {"type": "integer"},
    "retry_of": _NULL_STR,
    "cancel_requested": {"type": "boolean"},
    "result": {},
    "error": {"oneOf": [{"type": "null"}, _ref("RunError")]},
}
_RUN_ERROR = _obj(
    ["type", "message"],
    type={"type": "string"},
    message={"type": "string"},
    traceback=_NULL_STR,
)
_ATTEMPT = _obj(
    ["number", "started_at", "finished_at", "outcome", "error"],
    number={"type": "integer"},
    started_at=_TIME,
    finished_at=_TIME,
    outcome={"enum": ["running", "succeeded", "failed", "timed_out", "cancelled", "interrupted"]},
    error={"oneOf": [{"type": "null"}, _ref("RunError")]},
)
SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        ["error"],
        error=_obj(["code", "message"], code={"type": "string"}, message={"type": "string"}),
    ),
    "RunRequest": _obj(
        ["graph_id"],
        graph_id={"type": "string"},
        params={"type": "object"},
        idempotency_key=_NULL_STR,
        not_before={"type": "string", "format": "date-time"},
    ),
    "BackfillRequest": _obj(
        ["from", "to"],
        **{"from": {"type": "string", "format": "date-time"}},
        to={"type": "string", "format": "date-time"},
        dry_run={"type": "boolean", "default": False},
    ),
    "Backfill": _obj(
        ["planned", "enqueued", "deduplicated", "first", "last"],
        planned={"type": "integer"},
        enqueued={"type": "integer"},
        deduplicated={"type": "integer"},
        first=_TIME,
        last=_TIME,
        dry_run={"type": "boolean"},
        instants={"type": "array", "items": {"type": "string", "format": "date-time"}},
    ),
    "RunAccepted": _obj(
        ["run_id", "status", "deduplicated"],
        run_id={"type": "string"},
        status={"type": "string"},
        deduplicated={"type": "boolean"},
        retry_of={"type": "string"},
    ),
    # ``attempts`` only in GET /v1/runs/{run_id}; the list leaves it out.
    "Run": _obj(
        list(_RUN_PROPS), **_RUN_PROPS, attempts={"type": "array", "items": _ref("Attempt")}
    ),
    "RunError": _RUN_ERROR,
    "Attempt": _ATTEMPT,
    "RunPage": _obj(
        ["items", "next_cursor"],
        items={"type": "array", "items": _ref("Run")},
        next_cursor=_NULL_STR,
    ),
    "Trigger": _obj(
        ["trigger_id", "plugin", "kind", "state", "paused", "last_fire", "next_fire"],
        trigger_id={"type": "string"},
        plugin={"type": "string"},
        kind={"type": "string"},
        state={"type": "string"},
        paused={"type": "boolean"},
        last_fire=_TIME,
        next_fire=_TIME,
        graph_id=_NULL_STR,
        note=_NULL_STR,
    ),
    "Plugin": _obj(
        ["name", "state", "error"],
        name={"type": "string"},
        state={"type": "string"},
        error=_NULL_STR,
    ),
}


def app_routes(app: Quart) -> set[tuple[str, str]]:
    """Return ``(openapi path, lower-case method)`` for every route of *app*."""
    out = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in {"HEAD", "OPTIONS"}:
                out.add((path, method.lower()))
    return out


def _other(path: str, method: str) -> dict[str, Any]:
    params = [_path_param(n) for n in re.findall(r"{([^}]+)}", path)]
    op = {
        "summary": f"Trigger route {method.upper()} {path} (signed delivery; no bearer token)",
        "responses": {"default": {"description": "see the trigger's documentation"}},
        "security": [],
    }
    return dict(op, parameters=params) if params else op


def build_openapi(app: Quart) -> dict[str, Any]:
    """Return the OpenAPI document for exactly the routes *app* serves."""
    paths: dict[str, dict[str, Any]] = {}
    for path, method in sorted(app_routes(app)):
        op = API_OPERATIONS.get(path, {}).get(method) or _other(path, method)
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Stargraph", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
