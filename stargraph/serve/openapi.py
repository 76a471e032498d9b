"""The OpenAPI 3.1 document, built from the app's real URL map at request time.

The core API's operations are described here in full; the webhook routes with their real
answers; any other route (a plugin's) is listed from the URL map with a generic description, so
the document always names exactly the routes the app serves. With an API token configured every
``/v1/`` operation requires it (``security: [{bearer: []}]``, a ``401`` answer) except public
routes (:func:`stargraph.triggers.public_route`, the webhook routes): ``security: []``. Without a
token no operation requires one. ``tests/serve/test_schemathesis.py`` proves the document
against the live server.
"""

from __future__ import annotations

import re
from typing import Any

from quart import Quart

from stargraph import __version__
from stargraph.serve._auth import API_PREFIX, is_public_endpoint
from stargraph.serve.api_runs import CURSOR_PATTERN, MAX_LIMIT
from stargraph.triggers import MAX_KEY_LENGTH
from stargraph.views import DEFAULT_LIST_LIMIT

__all__ = ["API_OPERATIONS", "app_routes", "build_openapi"]

_NULL_STR = {"type": ["string", "null"]}
_NAME = {"type": "string", "minLength": 1, "pattern": "^[^\\u0000]+$"}  # no NUL
_SECURED: list[dict[str, list[str]]] = [{"bearer": []}]
_UNAVAILABLE = ("503", "not ready, store unavailable (see Retry-After) or scheduler stopping")
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
    op["security"] = _SECURED if secured else []
    op.update(extra)
    return op


def _v1(summary: str, ok: tuple[str, dict[str, Any], str], *errors: tuple[str, str],
        **extra: Any) -> dict[str, Any]:  # fmt: skip
    """A ``/v1/`` operation: token-secured, and 503 when the runtime or store is unavailable."""
    return _op(summary, ok, *errors, _UNAVAILABLE, **extra)


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    out = {"name": name, "in": "query", "required": False, "schema": schema}
    return dict(out, description=description) if description else out


_RUN_BODY = {"required": True, "content": {"application/json": {"schema": _ref("RunRequest")}}}
_NOTE_BODY = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"note": {"type": "string", "pattern": "^[^\\u0000]*$"}},
                "additionalProperties": False,
            }
        }
    },
}
_STATUSES = ["pending", "running", "succeeded", "failed", "cancelled"]
_LIST_PARAMS = [
    _query("graph_id", _NAME),
    _query("status", {"type": "string", "enum": _STATUSES}),
    _query("trigger_id", _NAME),
    _query("trigger_source", _NAME, "what enqueued the run: manual, cron, webhook, plugin, ..."),
    _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIST_LIMIT},
    ),
    _query(
        "cursor",
        {"type": "string", "pattern": CURSOR_PATTERN},
        "opaque: the next_cursor of the previous page, unchanged (400 bad_cursor otherwise)",
    ),
    _query("since", {"type": "string", "format": "date-time"}),
    _query("until", {"type": "string", "format": "date-time"}),
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
    errors = [("404", "unknown trigger"), ("409", "not supported by this trigger")]
    if verb == "pause":
        errors += [("400", "bad JSON or body"), ("413", "body_too_large: above 16 MiB")]
    return {"post": _v1(f"{verb.capitalize()} a trigger", ok, *errors, **extra)}


API_OPERATIONS: dict[str, dict[str, Any]] = {
    "/v1/runs": {
        "post": _v1(
            "Enqueue a run",
            ("202", _ref("RunAccepted"), "durably enqueued"),
            ("400", "bad JSON or body"),
            ("404", "unknown graph"),
            ("422", "params is not a JSON object"),
            ("413", "body_too_large: above 16 MiB"),
            requestBody=_RUN_BODY,
        ),
        "get": _v1(
            "List runs, newest first",
            ("200", _ref("RunPage"), "one page"),
            ("400", "bad filter or cursor"),
            parameters=_LIST_PARAMS,
        ),
    },
    "/v1/runs/{run_id}": {
        "get": _v1(
            "Show a run",
            ("200", _ref("Run"), "the run"),
            ("404", "unknown run"),
            parameters=[_path_param("run_id")],
        )
    },
    "/v1/runs/{run_id}/cancel": {
        "post": _v1(
            "Cancel a run",
            ("200", _ref("Run"), "cancelled or cancel requested"),
            ("404", "unknown run"),
            ("409", "the run already finished"),
            parameters=[_path_param("run_id")],
        )
    },
    "/v1/runs/{run_id}/retry": {
        "post": _v1(
            "Retry a finished run as a new run (same graph and params, retry_of set)",
            ("202", _ref("RunAccepted"), "the new run, durably enqueued (or the earlier retry)"),
            ("404", "unknown run"),
            ("409", "the run has not finished (run_not_finished)"),
            ("503", "scheduler_busy (see Retry-After) or unavailable"),
            parameters=[_path_param("run_id")],
        )
    },
    "/v1/triggers": {"get": _v1("List triggers", ("200", _list_of("Trigger"), "every trigger"))},
    "/v1/triggers/{trigger_id}": {
        "get": _v1(
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
        "post": _v1(
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
    "/v1/plugins": {"get": _v1("List plugins", ("200", _list_of("Plugin"), "every plugin"))},
    "/healthz": {"get": _op("Liveness", ("200", {"type": "object"}, "alive"), secured=False)},
    "/readyz": {
        "get": _op(
            "Readiness: the runtime is started and its store commits a probe write",
            ("200", {"type": "object"}, "ready"),
            ("503", "not_ready, store_unreachable, store_not_writable, store_timeout, ..."),
            secured=False,
        )
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format 0.0.4",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "503": _err("the runtime is not started yet"),
            },
            "security": [],
        }
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
    "status": {"type": "string", "enum": _STATUSES},
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
    "RunRequest": dict(
        _obj(
            ["graph_id"],
            graph_id=_NAME,
            params={"type": ["object", "null"]},
            idempotency_key={
                "type": ["string", "null"],
                "minLength": 1,
                "maxLength": MAX_KEY_LENGTH,
                "pattern": _NAME["pattern"],
            },
            not_before={"type": ["string", "null"], "format": "date-time"},
        ),
        additionalProperties=False,
    ),
    "BackfillRequest": dict(
        _obj(
            ["from", "to"],
            **{"from": {"type": "string", "format": "date-time"}},
            to={"type": "string", "format": "date-time"},
            dry_run={"type": "boolean", "default": False},
        ),
        additionalProperties=False,
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
        status={"type": "string", "enum": _STATUSES},
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
        schedule=_NULL_STR,
        tz=_NULL_STR,
        error=_NULL_STR,
        details={"type": "object", "additionalProperties": True},
    ),
    "WebhookAccepted": _obj(
        ["run_id", "idempotency_key", "deduplicated"],
        run_id={"type": "string"},
        idempotency_key={"type": "string"},
        deduplicated={"type": "boolean"},
    ),
    "Plugin": _obj(
        ["name", "state", "error"],
        name={"type": "string"},
        state={"type": "string"},
        error=_NULL_STR,
    ),
}


def app_routes(app: Quart) -> set[tuple[str, str]]:
    """Return ``(openapi path, lower-case method)`` for every API route of *app*."""
    return set(_rules(app))


_WEBHOOK_ANSWERS = {
    "200": "Slack url_verification: the challenge echoed (no run)",
    "202": "verified and durably enqueued (or deduplicated onto the existing run)",
    "400": "malformed header or body (invalid_header, bad_json, ...)",
    "401": "missing_headers, invalid_signature, invalid_timestamp, timestamp_out_of_window",
    "408": "body_timeout: the body did not arrive in time",
    "409": "duplicate_nonce: a replay of an accepted delivery",
    "413": "payload_too_large: above the route's max_body_bytes",
    "422": "invalid_params: the params extractor refused the body",
    "503": "trigger_paused, scheduler_busy, graph_unavailable or unavailable (see Retry-After)",
}


def _webhook(path: str) -> dict[str, Any]:
    responses = {
        code: _json(_ref("WebhookAccepted") if code == "202" else _ref("Error"), text)
        for code, text in _WEBHOOK_ANSWERS.items()
    }
    responses["200"] = _json({"type": "object"}, _WEBHOOK_ANSWERS["200"])
    return {
        "summary": f"Webhook {path} (signed delivery: no bearer token; see docs/webhooks.md)",
        "requestBody": {"required": False, "content": {"*/*": {"schema": {}}}},
        "responses": responses,
        "security": [],
    }


def _other(path: str, method: str, secured: bool) -> dict[str, Any]:
    params = [_path_param(n) for n in re.findall(r"{([^}]+)}", path)]
    who = "API token" if secured else "no bearer token"
    op: dict[str, Any] = {
        "summary": f"Plugin route {method.upper()} {path} ({who})",
        "responses": {"default": {"description": "see the plugin's documentation"}},
        "security": _SECURED if secured else [],
    }
    if secured:
        op["responses"]["401"] = _err("missing or wrong token")
    return dict(op, parameters=params) if params else op


#: Blueprints of HTML pages, not JSON operations: the console (``/ui``, see docs/console.md).
_NOT_API = ("stargraph_console.",)


def _rules(app: Quart) -> dict[tuple[str, str], str]:
    """``(openapi path, method) -> endpoint`` for every API route of *app* (not the console)."""
    out = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(_NOT_API):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in {"HEAD", "OPTIONS"}:
                out[(path, method.lower())] = rule.endpoint
    return out


def _for_token(op: dict[str, Any], token: bool) -> dict[str, Any]:
    """*op* as served: without a token configured nothing is secured (and nothing is 401)."""
    if token or not op.get("security"):
        return op
    responses = {k: v for k, v in op["responses"].items() if k != "401"}
    return dict(op, security=[], responses=responses)


def _operation(app: Quart, path: str, method: str, endpoint: str) -> dict[str, Any]:
    core: dict[str, Any] | None = API_OPERATIONS.get(path, {}).get(method)
    if core is not None:
        return core
    from stargraph.triggers.webhook.routes import BLUEPRINT_NAME

    if endpoint.startswith(f"{BLUEPRINT_NAME}."):
        return _webhook(path)
    under_v1 = path.startswith(API_PREFIX) or path == API_PREFIX[:-1]
    return _other(path, method, under_v1 and not is_public_endpoint(app, endpoint))


def build_openapi(app: Quart, *, token: bool = False) -> dict[str, Any]:
    """Return the OpenAPI document for exactly the routes *app* serves.

    *token*: an API token is configured (secured operations then require it).
    """
    paths: dict[str, dict[str, Any]] = {}
    for (path, method), endpoint in sorted(_rules(app).items()):
        op = _for_token(_operation(app, path, method, endpoint), token)
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
