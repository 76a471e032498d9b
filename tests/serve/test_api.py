"""The HTTP API in-process on each backend: real Runtime (SQLite file), Hypercorn and httpx."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import pytest
from _settings import settings as scheduler_settings

from stargraph._http import answer_for
from stargraph.errors import InvalidParams, RunAlreadyFinished, SchedulerBusy, SchedulerClosed
from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, RunContext, RunPolicy
from stargraph.serve import attach_runtime, bind_socket, create_app, serve_app
from stargraph.serve.openapi import API_OPERATIONS, app_routes
from stargraph.triggers.cron import CronSpec
from stargraph.triggers.webhook import WebhookSpec, sign

TOKEN = "test-api-token-123"
HOOK_SECRET = "hook-secret-456"


async def ok(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"echo": params, "source": ctx.trigger_source}


async def slow(params: dict[str, Any], ctx: RunContext) -> str:
    await anyio.sleep(float(params.get("seconds", 30)))
    return "slept"


def fail(params: dict[str, Any], ctx: RunContext) -> None:
    raise RuntimeError("graph failed on purpose")


GRAPHS = [
    Graph(graph_id="ok", fn=ok),
    Graph(graph_id="slow", fn=slow),
    Graph(graph_id="single", fn=slow, policy=RunPolicy(concurrency=1)),
    Graph(graph_id="fail", fn=fail),
]


@attrs.frozen
class Server:
    """A running in-process server: authorised client, anonymous client, runtime, app."""

    client: httpx.AsyncClient
    anon: httpx.AsyncClient
    runtime: Runtime
    app: Any
    url: str


def runtime_deps() -> dict[str, Any]:
    return {
        "cron_specs": [  # yearly: never fires by itself during the tests
            CronSpec(trigger_id="cron:yearly", schedule="0 0 1 1 *", graph_id="ok")
        ],
        "webhook_specs": [
            WebhookSpec(
                trigger_id="webhook:test",
                path="/hooks/test",
                graph_id="ok",
                scheme="stargraph",
                secrets=(HOOK_SECRET,),
            )
        ],
    }


@pytest.fixture(scope="module")
async def server(
    anyio_backend: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Server]:
    folder: Path = tmp_path_factory.mktemp("api")
    async with Runtime(
        f"sqlite:///{folder / 'api.db'}", graphs=GRAPHS, deps=runtime_deps()
    ) as runtime:
        app = create_app(anyio_backend, api_token=TOKEN)
        attach_runtime(app, runtime)
        with bind_socket("127.0.0.1", 0) as sock:
            async with anyio.create_task_group() as tg:
                host, port = await tg.start(partial(serve_app, app, sock=sock, grace=2))
                url = f"http://{host}:{port}"
                auth = {"Authorization": f"Bearer {TOKEN}"}
                async with (
                    httpx.AsyncClient(base_url=url, headers=auth) as client,
                    httpx.AsyncClient(base_url=url) as anon,
                ):
                    yield Server(client=client, anon=anon, runtime=runtime, app=app, url=url)
                tg.cancel_scope.cancel()


async def wait_status(client: httpx.AsyncClient, run_id: str, *statuses: str) -> dict[str, Any]:
    """Poll ``GET /v1/runs/{id}`` until the run is in one of *statuses*."""
    with anyio.fail_after(10):
        while True:
            run: dict[str, Any] = (await client.get(f"/v1/runs/{run_id}")).json()
            if run["status"] in statuses:
                return run
            await anyio.sleep(0.02)


# -- auth -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
async def test_v1_routes_need_the_bearer_token(server: Server, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in [
        ("GET", "/v1/runs"),
        ("POST", "/v1/runs"),
        ("GET", "/v1/triggers"),
        ("GET", "/v1/plugins"),
        ("POST", "/v1/triggers/cron:yearly/fire"),
    ]:
        response = await server.anon.request(method, path, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert TOKEN not in response.text


async def test_ops_routes_need_no_token(server: Server) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert (await server.anon.get(path)).status_code == 200, path


async def test_webhook_route_uses_its_signature_not_the_token(server: Server) -> None:
    body = b'{"event": "ping"}'
    headers = sign("stargraph", HOOK_SECRET, body)
    response = await server.anon.post("/hooks/test", content=body, headers=headers)
    assert response.status_code == 202, response.text
    run = await wait_status(server.client, response.json()["run_id"], "succeeded")
    assert run["trigger_source"] == "webhook" and run["params"] == {"event": "ping"}
    unsigned = await server.client.post("/hooks/test", content=body)  # bearer is no signature
    assert unsigned.status_code in (400, 401)


# -- runs -----------------------------------------------------------------------------------------


async def test_post_run_then_get_it(server: Server) -> None:
    response = await server.client.post("/v1/runs", json={"graph_id": "ok", "params": {"a": 1}})
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"run_id", "status", "deduplicated"} and body["deduplicated"] is False
    run = await wait_status(server.client, body["run_id"], "succeeded")
    assert set(run) >= {
        "run_id",
        "graph_id",
        "status",
        "idempotency_key",
        "params",
        "trigger_id",
        "trigger_source",
        "scheduled_fire",
        "enqueued_at",
        "started_at",
        "finished_at",
        "attempt",
        "result",
        "error",
    }
    assert run["result"] == {"echo": {"a": 1}, "source": "manual"} and run["error"] is None
    for key in ("enqueued_at", "started_at", "finished_at"):
        assert run[key].endswith("+00:00"), run[key]


async def test_post_run_deduplicates_on_the_key(server: Server) -> None:
    body = {"graph_id": "ok", "idempotency_key": f"dedup-{server.url}"}
    first = (await server.client.post("/v1/runs", json=body)).json()
    second = (await server.client.post("/v1/runs", json=body)).json()
    assert second["run_id"] == first["run_id"] and second["deduplicated"] is True


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "bad_json"),
        (b"[1, 2]", 400, "bad_body"),
        (b"", 400, "bad_body"),
        (b'{"params": {}}', 400, "bad_body"),
        (b'{"graph_id": 3}', 400, "bad_body"),
        (b'{"graph_id": "ok", "extra": 1}', 400, "bad_body"),
        (b'{"graph_id": "ok", "idempotency_key": ""}', 400, "bad_body"),
        (b'{"graph_id": "ok", "idempotency_key": "' + b"k" * 513 + b'"}', 400, "bad_body"),
        (b'{"graph_id": "ok", "params": [1]}', 422, "invalid_params"),
        (b'{"graph_id": "ok", "params": {"x": NaN}}', 422, "invalid_params"),
        (b'{"graph_id": "nope"}', 404, "unknown_graph"),
        (b"\xff\xfe", 400, "bad_json"),
    ],
)
async def test_post_run_bad_input(server: Server, content: bytes, status: int, code: str) -> None:
    response = await server.client.post(
        "/v1/runs", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


async def test_list_runs_filters_and_pages(server: Server) -> None:
    ids = []
    for i in range(3):
        body = {"graph_id": "ok", "params": {"i": i}, "idempotency_key": f"page-{i}-{server.url}"}
        ids.append((await server.client.post("/v1/runs", json=body)).json()["run_id"])
    for run_id in ids:
        await wait_status(server.client, run_id, "succeeded")
    page = (await server.client.get("/v1/runs", params={"graph_id": "ok", "limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    enqueued = [item["enqueued_at"] for item in page["items"]]
    assert enqueued == sorted(enqueued, reverse=True)
    assert page["items"][0]["run_id"] == ids[-1]
    rest = (
        await server.client.get(
            "/v1/runs", params={"graph_id": "ok", "limit": 2, "cursor": page["next_cursor"]}
        )
    ).json()
    assert rest["items"] and rest["items"][0]["run_id"] == ids[0]
    failed = (await server.client.get("/v1/runs", params={"status": "failed"})).json()
    assert all(item["status"] == "failed" for item in failed["items"])
    hooked = (await server.client.get("/v1/runs", params={"trigger_id": "none-such"})).json()
    assert hooked == {"items": [], "next_cursor": None}


async def test_list_runs_since_until_with_keyset_paging(server: Server) -> None:
    ids, stamps = [], []
    for i in range(4):
        body = {"graph_id": "ok", "params": {"i": i}, "idempotency_key": f"since-{i}-{server.url}"}
        ids.append((await server.client.post("/v1/runs", json=body)).json()["run_id"])
        run = (await server.client.get(f"/v1/runs/{ids[-1]}")).json()
        stamps.append(run["enqueued_at"])
    since, until = stamps[1], stamps[3]  # [since, until): runs 1 and 2
    zulu = {"since": since.replace("+00:00", "Z"), "until": until.replace("+00:00", "Z")}
    for window in (zulu, {"since": since, "until": until}):  # an unencoded '+' arrives as ' '
        query = {"graph_id": "ok", "limit": 1, **window}
        first = (await server.client.get("/v1/runs", params=query)).json()
        assert [i["run_id"] for i in first["items"]] == [ids[2]] and first["next_cursor"]
        query["cursor"] = first["next_cursor"]
        second = (await server.client.get("/v1/runs", params=query)).json()
        assert [i["run_id"] for i in second["items"]] == [ids[1]]
        assert second["next_cursor"] is None
    raw = await server.client.get(f"/v1/runs?graph_id=ok&since={since}")  # '+' not encoded
    assert [i["run_id"] for i in raw.json()["items"]][-1] == ids[1], raw.text


@pytest.mark.parametrize(
    "query",
    [
        {"status": "done"},
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "x"},
        {"cursor": "garbage"},
        {"graph": "ok"},
        {"since": "yesterday"},
        {"until": "2026-12-01T09:00:00"},  # no offset
    ],
)
async def test_list_runs_bad_filters(server: Server, query: dict[str, str]) -> None:
    response = await server.client.get("/v1/runs", params=query)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("bad_filter", "bad_cursor")


async def test_unknown_run(server: Server) -> None:
    for method, path in [("GET", "/v1/runs/r-none"), ("POST", "/v1/runs/r-none/cancel")]:
        response = await server.client.request(method, path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "run_not_found"


async def test_failed_run_shows_its_error(server: Server) -> None:
    run_id = (await server.client.post("/v1/runs", json={"graph_id": "fail"})).json()["run_id"]
    run = await wait_status(server.client, run_id, "failed")
    error = run["error"]
    assert (error["type"], error["message"]) == ("RuntimeError", "graph failed on purpose")
    assert error["traceback"].startswith("Traceback (most recent call last):")
    assert 'in fail\n    raise RuntimeError("graph failed on purpose")' in error["traceback"]
    assert error["traceback"].endswith("RuntimeError: graph failed on purpose\n")
    (attempt,) = run["attempts"]
    assert attempt["number"] == 1 and attempt["outcome"] == "failed"
    assert attempt["error"] == error and attempt["finished_at"] == run["finished_at"]
    assert (run["interruptions"], run["max_interruptions"], run["retry_of"]) == (0, 3, None)
    listed = (await server.client.get("/v1/runs", params={"graph_id": "fail"})).json()["items"]
    assert listed and all("attempts" not in item for item in listed)  # the list stays light


async def test_retry_a_finished_run(server: Server) -> None:
    post = server.client.post
    first = (await post("/v1/runs", json={"graph_id": "fail", "idempotency_key": "r-k"})).json()
    await wait_status(server.client, first["run_id"], "failed")
    response = await post(f"/v1/runs/{first['run_id']}/retry")
    assert response.status_code == 202
    body = response.json()
    assert body["retry_of"] == first["run_id"] and body["deduplicated"] is False
    assert response.headers["location"] == f"/v1/runs/{body['run_id']}"
    again = await post(f"/v1/runs/{first['run_id']}/retry")  # a double click: the same retry
    assert again.status_code == 202 and again.json()["run_id"] == body["run_id"]
    assert again.json()["deduplicated"] is True
    retried = await wait_status(server.client, body["run_id"], "failed")
    assert retried["retry_of"] == first["run_id"] and retried["graph_id"] == "fail"
    assert retried["idempotency_key"] == "r-k:retry:1"
    second = (await post(f"/v1/runs/{body['run_id']}/retry")).json()
    assert (await server.client.get(f"/v1/runs/{second['run_id']}")).json()[
        "idempotency_key"
    ] == "r-k:retry:2"
    missing = await post("/v1/runs/no-such-run/retry")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "run_not_found"
    running = (await post("/v1/runs", json={"graph_id": "slow", "params": {"seconds": 30}})).json()
    refused = await post(f"/v1/runs/{running['run_id']}/retry")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "run_not_finished"
    await post(f"/v1/runs/{running['run_id']}/cancel")


async def test_cancel_running_pending_and_finished(server: Server) -> None:
    post = server.client.post
    running = (await post("/v1/runs", json={"graph_id": "single"})).json()["run_id"]
    await wait_status(server.client, running, "running")
    pending = (await post("/v1/runs", json={"graph_id": "single"})).json()["run_id"]
    cancelled = await post(f"/v1/runs/{pending}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    response = await post(f"/v1/runs/{running}/cancel")
    assert response.status_code == 200
    await wait_status(server.client, running, "cancelled")
    again = await post(f"/v1/runs/{running}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "run_finished"


# -- triggers and plugins -------------------------------------------------------------------------


async def test_list_triggers(server: Server) -> None:
    items = {t["trigger_id"]: t for t in (await server.client.get("/v1/triggers")).json()["items"]}
    assert {"cron:yearly", "webhook:test"} <= set(items)
    cron = items["cron:yearly"]
    assert set(cron) >= {
        "trigger_id",
        "plugin",
        "kind",
        "state",
        "paused",
        "last_fire",
        "next_fire",
    }
    assert cron["kind"] == "cron" and cron["state"] == "running" and cron["paused"] is False
    assert (cron["schedule"], cron["tz"]) == ("0 0 1 1 *", "UTC"), cron
    assert (items["webhook:test"]["schedule"], items["webhook:test"]["tz"]) == (None, None)
    assert cron["next_fire"].endswith("+00:00") and cron["next_fire"][14:19] == "00:00"
    assert items["webhook:test"]["kind"] == "webhook"


async def test_pause_resume_fire(server: Server) -> None:
    post = server.client.post
    paused = await post("/v1/triggers/cron:yearly/pause", json={"note": "maintenance"})
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert paused.json()["note"] == "maintenance"
    shown = (await server.client.get("/v1/triggers/cron:yearly")).json()
    assert shown["paused"] is True
    resumed = await post("/v1/triggers/cron:yearly/resume")
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
    fired = await post("/v1/triggers/cron:yearly/fire")
    assert fired.status_code == 202, fired.text
    run = await wait_status(server.client, fired.json()["run_id"], "succeeded")
    assert run["trigger_id"] == "cron:yearly" and run["trigger_source"] == "cron"


async def test_trigger_errors(server: Server) -> None:
    post = server.client.post
    for path in ("/v1/triggers/nope/pause", "/v1/triggers/nope/resume", "/v1/triggers/nope/fire"):
        response = await post(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == (
            "trigger_not_found"
        )
    response = await post("/v1/triggers/webhook:test/fire")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_supported"
    bad = await post("/v1/triggers/cron:yearly/pause", content=b"{oops")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_json"


async def test_list_plugins(server: Server) -> None:
    items = (await server.client.get("/v1/plugins")).json()["items"]
    by_name = {item["name"]: item for item in items}
    cron = [name for name in by_name if name.endswith("stargraph.triggers:cron")]
    assert cron and by_name[cron[0]]["state"] == "running" and by_name[cron[0]]["error"] is None
    assert all(set(item) == {"name", "state", "error"} for item in items)


# -- ops ------------------------------------------------------------------------------------------


async def test_health_and_ready(server: Server) -> None:
    assert (await server.anon.get("/healthz")).json() == {"status": "ok"}
    assert (await server.anon.get("/readyz")).json() == {"status": "ready"}


async def test_metrics(server: Server) -> None:
    await server.client.post("/v1/runs", json={"graph_id": "ok"})
    response = await server.anon.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'stargraph_runs_enqueued_total{graph_id="ok",trigger_source="manual"}' in text
    assert 'stargraph_queue_depth{status="succeeded"}' in text
    assert "stargraph_run_duration_seconds_bucket" in text
    assert 'stargraph_trigger_state{plugin="' in text


async def test_openapi_matches_the_routes(server: Server) -> None:
    from openapi_spec_validator import validate

    doc = (await server.anon.get("/openapi.json")).json()
    validate(doc)
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert documented == app_routes(server.app)
    for path, ops in API_OPERATIONS.items():
        for method in ops:
            assert (path, method) in documented, (path, method)
    assert ("/hooks/test", "post") in documented


async def test_unknown_route_and_method_are_json(server: Server) -> None:
    missing = await server.client.get("/v1/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = await server.client.delete("/v1/runs")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


async def test_not_ready_without_a_runtime(anyio_backend: str) -> None:
    app = create_app(anyio_backend)
    client = app.test_client()
    response = await client.get("/readyz")
    assert response.status_code == 503
    response = await client.get("/v1/runs")
    assert response.status_code == 503
    assert (await response.get_json())["error"]["code"] == "not_ready"


def test_error_mapping() -> None:
    busy = answer_for(SchedulerBusy(10, retry_after=2.5))
    assert (busy.status, busy.code, busy.headers) == (503, "scheduler_busy", {"Retry-After": "3"})
    closed = answer_for(SchedulerClosed("stopped"))
    assert (closed.status, closed.code, closed.headers) == (
        503,
        "unavailable",
        {"Retry-After": "5"},
    )
    assert answer_for(InvalidParams("x")).status == 422
    finished = answer_for(RunAlreadyFinished("r1", "succeeded"))
    assert (finished.status, finished.code) == (409, "run_finished")
    assert str(finished) == "run r1 already ended (succeeded)"


# -- the CLI's remote listings against this server ------------------------------------------------


async def test_cli_lists_triggers_and_plugins(
    server: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from stargraph.cli import main

    logger = logging.getLogger("stargraph")
    monkeypatch.setattr(logger, "handlers", logger.handlers[:])  # main() configures logging
    monkeypatch.setattr(logger, "propagate", logger.propagate)
    monkeypatch.setattr(logger, "level", logger.level)
    monkeypatch.setenv("STARGRAPH_API_TOKEN", TOKEN)
    monkeypatch.delenv("STARGRAPH_CONFIG", raising=False)
    code = await anyio.to_thread.run_sync(main, ["triggers", "list", "--url", server.url])
    out = capsys.readouterr().out
    assert code == 0 and out.splitlines()[0].split()[:4] == ["TRIGGER", "GRAPH", "SCHEDULE", "TZ"]
    assert "cron:yearly" in out and "webhook:test" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    code = await anyio.to_thread.run_sync(main, ["triggers", "list", "--wide", "--url", server.url])
    out = capsys.readouterr().out
    assert code == 0 and out.splitlines()[0].split()[:3] == ["TRIGGER", "PLUGIN", "KIND"]
    code = await anyio.to_thread.run_sync(main, ["plugins", "list", "--json", "--url", server.url])
    items = json.loads(capsys.readouterr().out)["items"]
    assert code == 0 and "stargraph:stargraph.triggers:cron" in {i["name"] for i in items}
    monkeypatch.setenv("STARGRAPH_API_TOKEN", "wrong")
    code = await anyio.to_thread.run_sync(main, ["plugins", "list", "--url", server.url])
    assert code == 1 and "answered 401" in capsys.readouterr().err


async def test_full_intake_answers_503_scheduler_busy(anyio_backend: str, tmp_path: Path) -> None:
    """A tiny intake under 100 concurrent POSTs: some are refused with Retry-After."""

    settings = scheduler_settings(intake_capacity=1)
    codes: list[tuple[int, str | None, str | None]] = []
    async with Runtime(
        f"sqlite:///{tmp_path / 'busy.db'}", graphs=GRAPHS, settings=settings
    ) as runtime:
        app = create_app(anyio_backend)
        attach_runtime(app, runtime)
        with bind_socket("127.0.0.1", 0) as sock, anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                host, port = await tg.start(partial(serve_app, app, sock=sock, grace=2))
                limits = httpx.Limits(max_connections=100)
                async with httpx.AsyncClient(
                    base_url=f"http://{host}:{port}", limits=limits
                ) as client:

                    async def post() -> None:
                        r = await client.post("/v1/runs", json={"graph_id": "ok"})
                        code = r.json().get("error", {}).get("code")
                        codes.append((r.status_code, r.headers.get("Retry-After"), code))

                    async with anyio.create_task_group() as posts:
                        for _ in range(100):
                            posts.start_soon(post)
                tg.cancel_scope.cancel()
    assert (503, "1", "scheduler_busy") in codes and (202, None, None) in codes
    assert set(codes) == {(503, "1", "scheduler_busy"), (202, None, None)}


async def test_cli_pauses_resumes_and_fires_through_stargraph_url(
    server: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from stargraph.cli import main

    logger = logging.getLogger("stargraph")
    monkeypatch.setattr(logger, "handlers", logger.handlers[:])  # main() configures logging
    monkeypatch.setattr(logger, "propagate", logger.propagate)
    monkeypatch.setattr(logger, "level", logger.level)
    monkeypatch.setenv("STARGRAPH_API_TOKEN", TOKEN)
    monkeypatch.setenv("STARGRAPH_URL", server.url)  # no --url: the one source of truth
    monkeypatch.delenv("STARGRAPH_CONFIG", raising=False)

    async def cli(*argv: str) -> tuple[int, Any, str]:
        code = await anyio.to_thread.run_sync(main, [*argv, "--json"])
        out, err = capsys.readouterr()
        return code, json.loads(out) if out else None, err

    code, paused, err = await cli("triggers", "pause", "cron:yearly", "--note", "freeze")
    assert code == 0 and paused["paused"] is True and paused["note"] == "freeze"
    assert f"server {server.url} ($STARGRAPH_URL)" in err
    listed = (await server.client.get("/v1/triggers/cron:yearly")).json()
    assert listed["paused"] is True
    code, resumed, _ = await cli("triggers", "resume", "cron:yearly")
    assert code == 0 and resumed["paused"] is False
    code, fired, _ = await cli("triggers", "fire", "cron:yearly")
    assert code == 0 and fired["trigger_id"] == "cron:yearly" and fired["graph_id"] == "ok"
    code, _, err = await cli("triggers", "fire", "nope")
    assert code == 1 and "answered 404" in err


# -- time: delayed runs and backfill (issue 12) ------------------------------------------------


async def test_delayed_run_waits_is_listed_and_can_be_cancelled(server: Server) -> None:
    from datetime import UTC, datetime, timedelta

    soon = datetime.now(UTC) + timedelta(seconds=0.5)
    later = datetime.now(UTC) + timedelta(hours=1)
    a = await server.client.post(
        "/v1/runs", json={"graph_id": "ok", "not_before": soon.isoformat()}
    )
    b = await server.client.post(
        "/v1/runs",
        json={"graph_id": "ok", "not_before": later.isoformat(), "idempotency_key": "d1"},
    )
    assert a.status_code == b.status_code == 202
    pending = (await server.client.get("/v1/runs", params={"status": "pending"})).json()["items"]
    row = next(r for r in pending if r["run_id"] == b.json()["run_id"])
    assert datetime.fromisoformat(row["not_before"]) == later.replace(microsecond=later.microsecond)
    again = await server.client.post(  # the same key with another not_before: the same run
        "/v1/runs", json={"graph_id": "ok", "not_before": soon.isoformat(), "idempotency_key": "d1"}
    )
    assert again.json()["run_id"] == b.json()["run_id"] and again.json()["deduplicated"]
    done = await wait_status(server.client, a.json()["run_id"], "succeeded")
    assert datetime.fromisoformat(done["started_at"]) >= soon
    cancelled = await server.client.post(f"/v1/runs/{b.json()['run_id']}/cancel")
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["started_at"] is None
    naive = await server.client.post(
        "/v1/runs", json={"graph_id": "ok", "not_before": "2026-12-05T14:05:00"}
    )
    assert naive.status_code == 400 and "not_before" in naive.json()["error"]["message"]


async def test_backfill_enqueues_live_keys_once_and_validates(server: Server) -> None:
    url = "/v1/triggers/cron:yearly/backfill"
    body = {"from": "2020-01-01T00:00:00Z", "to": "2022-06-01T00:00:00+00:00"}
    dry = await server.client.post(url, json=dict(body, dry_run=True))
    assert dry.status_code == 200
    assert dry.json()["planned"] == 3 and len(dry.json()["instants"]) == 3
    first = await server.client.post(url, json=body)
    assert first.status_code == 200
    assert (first.json()["planned"], first.json()["enqueued"], first.json()["deduplicated"]) == (
        3,
        3,
        0,
    )
    assert first.json()["first"] == "2020-01-01T00:00:00+00:00"
    second = (await server.client.post(url, json=body)).json()
    assert (second["enqueued"], second["deduplicated"]) == (0, 3)
    runs = (await server.client.get("/v1/runs", params={"trigger_id": "cron:yearly"})).json()
    keys = {r["idempotency_key"] for r in runs["items"] if r["backfill"]}
    assert "cron:cron:yearly:2021-01-01T00:00:00+00:00" in keys
    assert {r["trigger_source"] for r in runs["items"] if r["backfill"]} == {"cron"}
    inverted = await server.client.post(url, json={"from": body["to"], "to": body["from"]})
    assert inverted.status_code == 422 and "is after to" in inverted.json()["error"]["message"]
    naive = await server.client.post(url, json={"from": "2020-01-01T00:00:00", "to": body["to"]})
    assert naive.status_code == 400 and "from" in naive.json()["error"]["message"]
    hook = await server.client.post("/v1/triggers/webhook:test/backfill", json=body)
    assert hook.status_code in (404, 409)


async def test_cli_backfill_dry_run_lists_and_changes_nothing(
    server: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from stargraph.cli import main

    logger = logging.getLogger("stargraph")
    monkeypatch.setattr(logger, "handlers", logger.handlers[:])  # main() configures logging
    monkeypatch.setattr(logger, "propagate", logger.propagate)
    monkeypatch.setattr(logger, "level", logger.level)
    monkeypatch.setenv("STARGRAPH_API_TOKEN", TOKEN)
    monkeypatch.delenv("STARGRAPH_CONFIG", raising=False)
    argv = ["triggers", "backfill", "cron:yearly", "--from", "2010-01-01T00:00:00Z"]
    argv += ["--to", "2012-12-31T00:00:00Z", "--dry-run", "--url", server.url]
    before = (await server.client.get("/v1/runs", params={"limit": 1000})).json()["items"]
    code = await anyio.to_thread.run_sync(main, [*argv, "--json"])
    plan = json.loads(capsys.readouterr().out)
    assert code == 0 and plan["planned"] == 3
    assert plan["instants"] == [f"{y}-01-01T00:00:00+00:00" for y in (2010, 2011, 2012)]
    code = await anyio.to_thread.run_sync(main, argv)
    out = capsys.readouterr().out
    assert code == 0 and "instants" not in out and "2010-01-01T00:00:00+00:00" in out
    after = (await server.client.get("/v1/runs", params={"limit": 1000})).json()["items"]
    assert len(after) == len(before)  # a dry run enqueues nothing
    bad = ["triggers", "backfill", "cron:yearly", "--from", "2012-01-01T00:00:00Z"]
    code = await anyio.to_thread.run_sync(
        main, [*bad, "--to", "2010-01-01T00:00:00Z", "--dry-run", "--url", server.url]
    )
    err = capsys.readouterr().err
    assert code == 1 and "answered 422" in err and "is after to" in err
