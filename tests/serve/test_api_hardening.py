"""Issue 11 on the HTTP API: inputs that answered 500 (defect 10), the exact OpenAPI answers
(defect 5), plugin routes under ``/v1/`` behind the token (defect 8), store failures as 503
without a path (defect 7) and a readiness that needs a commit (defect 9).

Each runs on asyncio and trio against a real Runtime (SQLite file) and a real Hypercorn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import pluggy
import pytest
from quart import Blueprint
from test_api import GRAPHS, TOKEN, Server, server

from stargraph.plugin import TriggerAdapter, hookspecs
from stargraph.runtime import Runtime
from stargraph.serve import attach_runtime, bind_socket, create_app, serve_app
from stargraph.triggers import public_route

__all__ = ["server"]  # the module-scoped live server of test_api

DEEP = 1000


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- defect 10: nine inputs that answered 500 ---------------------------------------------------

BAD_INPUTS = {
    "body nested 1000 deep": ("POST", "/v1/runs", nested(DEEP), "bad_json"),
    "params nested 1000 deep": (
        "POST", "/v1/runs", '{"graph_id": "ok", "params": {"a": ' + nested(DEEP) + "}}", "bad_json"
    ),
    "params nested 900 deep": (
        "POST", "/v1/runs", '{"graph_id": "ok", "params": {"a": ' + nested(900) + "}}", "bad_json"
    ),
    "pause body nested 1000 deep": (
        "POST", "/v1/triggers/cron:yearly/pause", '{"note": ' + nested(DEEP) + "}", "bad_json"
    ),
    "limit superscript two": ("GET", "/v1/runs?limit=%C2%B2", None, "bad_filter"),
    "limit arabic-indic ten": ("GET", "/v1/runs?limit=%D9%A1%D9%A0", None, "bad_filter"),
    "lone surrogate in a pause note": (
        "POST", "/v1/triggers/cron:yearly/pause", '{"note": "a\\ud800b"}', "bad_body"
    ),
    "lone surrogate in an idempotency key": (
        "POST", "/v1/runs", '{"graph_id": "ok", "idempotency_key": "k\\udc00"}', "bad_body"
    ),
    "NUL in an idempotency key": (
        "POST", "/v1/runs", '{"graph_id": "ok", "idempotency_key": "k\\u0000"}', "bad_body"
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_INPUTS))
async def test_bad_input_is_400_not_500(server: Server, case: str) -> None:
    method, path, body, code = BAD_INPUTS[case]
    content = body.encode() if body is not None else None
    response = await server.client.request(method, path, content=content)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code
    if "pause" in path:  # nothing was paused by a refused body
        shown = (await server.client.get("/v1/triggers/cron:yearly")).json()
        assert shown["paused"] is False


# -- defect 5: the answers the document promises -------------------------------------------------


@pytest.mark.parametrize("query", ["status=", "graph_id=", "cursor=", "limit=", "cursor=a%2Fb"])
async def test_empty_or_malformed_filters_are_400(server: Server, query: str) -> None:
    response = await server.client.get(f"/v1/runs?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in {"bad_filter", "bad_cursor"}


async def test_pause_with_a_null_note_is_400(server: Server) -> None:
    response = await server.client.post("/v1/triggers/cron:yearly/pause", json={"note": None})
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_body"


@pytest.mark.parametrize("path", ["/v1/runs", "/healthz", "/hooks/test"])
async def test_options_is_405_json_with_allow(server: Server, path: str) -> None:
    response = await server.client.options(path)
    assert response.status_code == 405, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers["Allow"]


async def test_openapi_document_is_exact(server: Server) -> None:
    doc = (await server.anon.get("/openapi.json")).json()
    paths = doc["paths"]
    metrics = paths["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    req = doc["components"]["schemas"]["RunRequest"]
    assert req["additionalProperties"] is False
    assert req["properties"]["graph_id"]["minLength"] == 1
    assert req["properties"]["idempotency_key"]["minLength"] == 1
    hook = paths["/hooks/test"]["post"]
    assert {"202", "400", "401", "408", "409", "413", "422", "503"} <= set(hook["responses"])
    assert hook["security"] == []
    assert paths["/v1/runs"]["get"]["security"] == [{"bearer": []}]  # required, not optional
    cursor = next(p for p in paths["/v1/runs"]["get"]["parameters"] if p["name"] == "cursor")
    assert cursor["schema"]["pattern"].startswith("^")


async def test_openapi_without_a_token_requires_none(anyio_backend: str, tmp_path: Path) -> None:
    async with Runtime(f"sqlite:///{tmp_path / 'o.db'}", graphs=GRAPHS) as runtime:
        app = create_app(anyio_backend)
        attach_runtime(app, runtime)
        doc = await (await app.test_client().get("/openapi.json")).get_json()
    ops = [op for item in doc["paths"].values() for op in item.values()]
    assert all(op["security"] == [] for op in ops)
    assert all("401" not in op["responses"] for op in ops)


# -- defect 8: a plugin's Blueprint under /v1/ ------------------------------------------------


class SecretPlugin:
    """A trigger plugin contributing one private and one explicitly public /v1/ route."""

    def init(self, deps: dict[str, Any]) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def routes(self) -> list[Blueprint]:
        private = Blueprint("secret_plugin", __name__)
        private.add_url_rule("/v1/secret/data", view_func=_secret, methods=["GET"])
        hooks = Blueprint("secret_plugin_public", __name__)
        hooks.add_url_rule("/v1/secret/callback", view_func=public_route(_callback))
        whole = public_route(Blueprint("secret_plugin_open", __name__))
        whole.add_url_rule("/v1/open/ping", view_func=_callback)
        return [private, hooks, whole]


async def _secret() -> dict[str, str]:
    return {"secret": "plugin data"}


async def _callback() -> dict[str, str]:
    return {"public": "yes"}


@pytest.fixture
async def plugin_server(anyio_backend: str, tmp_path: Path) -> AsyncIterator[str]:
    pm = pluggy.PluginManager("stargraph")
    pm.add_hookspecs(hookspecs)
    pm.register(TriggerAdapter(SecretPlugin()), name="secret")  # type: ignore[arg-type]
    async with Runtime(
        f"sqlite:///{tmp_path / 'p.db'}", graphs=GRAPHS, plugin_manager=pm
    ) as runtime:
        app = create_app(anyio_backend, api_token=TOKEN)
        attach_runtime(app, runtime)
        with bind_socket("127.0.0.1", 0) as sock:
            async with anyio.create_task_group() as tg:
                host, port = await tg.start(partial(serve_app, app, sock=sock, grace=2))
                yield f"http://{host}:{port}"
                tg.cancel_scope.cancel()


async def test_plugin_routes_under_v1_need_the_token(plugin_server: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=plugin_server) as anon:
        refused = await anon.get("/v1/secret/data")
        assert refused.status_code == 401 and "plugin data" not in refused.text
        assert (await anon.get("/v1/secret/data", headers=auth)).json() == {"secret": "plugin data"}
        assert (await anon.get("/v1/secret/callback")).json() == {"public": "yes"}
        assert (await anon.get("/v1/open/ping")).json() == {"public": "yes"}
        assert (await anon.get("/v1/no/such/route")).status_code == 401
        doc = (await anon.get("/openapi.json")).json()["paths"]
    assert doc["/v1/secret/data"]["get"]["security"] == [{"bearer": []}]
    assert doc["/v1/secret/callback"]["get"]["security"] == []
    assert doc["/v1/open/ping"]["get"]["security"] == []
