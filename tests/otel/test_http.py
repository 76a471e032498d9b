"""A W3C ``traceparent`` on a real HTTP request (real Hypercorn, httpx) continues its trace."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import anyio
import attrs
import httpx
import pytest
from _settings import HANG_BOUND, settings
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stargraph.runtime import Runtime
from stargraph.scheduler import Graph
from stargraph.serve import attach_runtime, bind_socket, create_app, serve_app
from stargraph.triggers.webhook import WebhookSpec, sign

from .conftest import named

pytest.importorskip("opentelemetry.sdk", reason="install the test extra (opentelemetry-sdk)")
pytestmark = pytest.mark.anyio

TOKEN = "otel-api-token-7f3a"
HOOK_SECRET = "otel-hook-secret-91b2"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


async def _ok(params: dict[str, Any], ctx: Any) -> str:
    return "ok"


@attrs.frozen
class Served:
    client: httpx.AsyncClient
    runtime: Runtime
    store_url: str


@pytest.fixture(params=["sqlite", "postgres"])
async def served(
    request: pytest.FixtureRequest, anyio_backend: str, spans: InMemorySpanExporter
) -> AsyncIterator[Served]:
    """A Runtime (webhook trigger + API) behind a real Hypercorn, with tracing on."""
    url = str(request.getfixturevalue(f"{request.param}_url"))
    hook = WebhookSpec(
        trigger_id="webhook:otel", path="/hooks/otel", graph_id="ok", scheme="stargraph",
        secrets=(HOOK_SECRET,),
    )  # fmt: skip
    async with Runtime(
        url, graphs=(Graph(graph_id="ok", fn=_ok),), settings=settings(tracing=True),
        deps={"webhook_specs": [hook]}, graph_entry_points=False,
    ) as runtime:  # fmt: skip
        app = create_app(anyio_backend, api_token=TOKEN)
        attach_runtime(app, runtime)
        with bind_socket("127.0.0.1", 0) as sock:
            async with anyio.create_task_group() as tg:
                host, port = await tg.start(partial(serve_app, app, sock=sock, grace=2))
                async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
                    yield Served(client=client, runtime=runtime, store_url=url)
                tg.cancel_scope.cancel()


def _headers(state: str | None = None) -> dict[str, str]:
    headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    if state:
        headers["tracestate"] = state
    return headers


async def _check_trace(served: Served, spans: InMemorySpanExporter, run_id: str) -> None:
    """The run's enqueue is a child of the remote parent; its attempt joins the same trace."""
    with anyio.fail_after(HANG_BOUND):
        run = await served.runtime.scheduler.wait_run(run_id)
    assert run.status == "succeeded"
    finished = spans.get_finished_spans()
    (enqueue,) = named(finished, "stargraph.enqueue")
    (attempt,) = named(finished, "stargraph.attempt")
    assert enqueue.parent is not None and enqueue.parent.is_remote
    assert f"{enqueue.parent.span_id:016x}" == PARENT_ID
    assert f"{enqueue.context.trace_id:032x}" == TRACE_ID == f"{attempt.context.trace_id:032x}"
    assert attempt.parent is not None and attempt.parent.span_id == enqueue.context.span_id
    assert run.trace_context is not None and run.trace_context.endswith("\nvendor=abc")
    _no_secret(served, finished)


def _no_secret(served: Served, finished: Any) -> None:
    secrets = [TOKEN, HOOK_SECRET, served.store_url, served.store_url.split("://", 1)[1]]
    for span in finished:
        values = [*(span.attributes or {}).values(), span.name]
        values += [v for e in span.events for v in (e.attributes or {}).values()]
        for value in values:
            assert not any(secret in str(value) for secret in secrets), (span.name, value)


async def test_api_request_continues_the_trace(served: Served, spans: InMemorySpanExporter) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}", **_headers("vendor=abc")}
    response = await served.client.post("/v1/runs", json={"graph_id": "ok"}, headers=auth)
    assert response.status_code == 202, response.text
    await _check_trace(served, spans, response.json()["run_id"])


async def test_webhook_delivery_continues_the_trace(
    served: Served, spans: InMemorySpanExporter
) -> None:
    body = json.dumps({"event": "push"}).encode()
    headers = {**sign("stargraph", HOOK_SECRET, body), **_headers("vendor=abc")}
    response = await served.client.post("/hooks/otel", content=body, headers=headers)
    assert response.status_code == 202, response.text
    await _check_trace(served, spans, response.json()["run_id"])
    (enqueue,) = named(spans.get_finished_spans(), "stargraph.enqueue")
    assert enqueue.attributes is not None
    assert enqueue.attributes["stargraph.trigger_source"] == "webhook"
    assert enqueue.attributes["stargraph.trigger_id"] == "webhook:otel"


async def test_a_request_without_traceparent_starts_a_trace(
    served: Served, spans: InMemorySpanExporter
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = await served.client.post("/v1/runs", json={"graph_id": "ok"}, headers=auth)
    assert response.status_code == 202, response.text
    with anyio.fail_after(HANG_BOUND):
        await served.runtime.scheduler.wait_run(response.json()["run_id"])
    (enqueue,) = named(spans.get_finished_spans(), "stargraph.enqueue")
    assert enqueue.parent is None
