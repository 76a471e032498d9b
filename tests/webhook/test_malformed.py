"""Malformed requests never produce a 5xx (other than 503) and never create a run."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Stack, webhook_stack
from .test_e2e import signed, spec
from .test_errors import raw_request

SPECS = [
    spec("stargraph"),
    spec("standard-webhooks"),
    spec("github"),
    spec("stripe"),
    spec("slack"),
    spec("github", params="form", path="/form", trigger_id="w:form"),
    spec("slack", params="raw", path="/raw", trigger_id="w:raw", max_body_bytes=512),
]
PATHS = [s.path for s in SPECS]
TRUNC = spec("stargraph", path="/trunc", trigger_id="w:trunc")
HEADER_NAMES = [
    "X-Stargraph-Timestamp",
    "X-Stargraph-Signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "X-Hub-Signature-256",
    "X-GitHub-Delivery",
    "Stripe-Signature",
    "X-Slack-Signature",
    "X-Slack-Request-Timestamp",
    "Content-Type",
    "X-Other",
]
CONTENT_TYPES = [
    b"application/json",
    b"application/x-www-form-urlencoded",
    b"text/plain",
    b"multipart/form-data; boundary=x",
    b"application/json; charset=latin-1",
    b"\xff\xfe",
    b"",
]


@pytest.fixture(scope="module")
async def stack(
    anyio_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    path: Path = tmp_path_factory.mktemp("malformed") / "stargraph.db"
    async with webhook_stack(f"sqlite:///{path}", [*SPECS, TRUNC]) as s:
        yield s


async def _property_runs(stack: Stack) -> int:
    """Runs created by anything but the truncated-request test (which makes one on purpose)."""
    return await stack.run_count() - await stack.run_count(TRUNC.trigger_id)


def _now_text() -> str:
    return str(int(time.time()))


# Header values: printable ASCII and obs-text bytes (what HTTP/1.1 can carry), or values that
# look almost right for one of the schemes.
_value_bytes = st.binary(max_size=200).map(
    lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F).strip()
)
_plausible = st.sampled_from(
    [
        "t=1,v1=" + "a" * 64,
        "v0=" + "0" * 64,
        "sha256=" + "f" * 64,
        "v1,AAAA",
        "v1," + "A" * 43 + "=",
        "msg_1",
        "1e3",
        "-1",
        "99999999999999999999",
        " 12 ",
        "t=,v1=",
        "v1a,xyz v1,",
        "=",
    ]
).map(str.encode)
_now = st.builds(lambda: _now_text().encode())
header_values = st.one_of(_value_bytes, _plausible, _now)
headers_strategy = st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=6)
bodies = st.one_of(
    st.binary(max_size=800),
    st.sampled_from(
        [
            b"",
            b"{}",
            b"[]",
            b"null",
            b'{"a": NaN}',
            b"{" * 300,
            b"a=1&a=2",
            b"\xff\xfe\xfd",
            b'{"id": "evt_1", "event_id": "E1"}',
            b"x" * 600,
        ]
    ),
)


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "PATCH", "DELETE"]),
    path=st.sampled_from(PATHS),
    headers=headers_strategy,
    content_type=st.sampled_from(CONTENT_TYPES),
    body=bodies,
)
async def test_malformed_requests_never_5xx_and_never_run(
    stack: Stack,
    method: str,
    path: str,
    headers: dict[str, bytes],
    content_type: bytes,
    body: bytes,
) -> None:
    sent = {name: value.strip(b" \t") for name, value in headers.items() if value.strip(b" \t")}
    if content_type:
        sent["Content-Type"] = content_type
    with anyio.fail_after(10):
        r = await stack.client.request(method, stack.url + path, content=body, headers=sent)
    assert r.status_code < 500, (r.status_code, r.text)
    if r.status_code >= 400 and method == "POST":
        assert "error" in r.json()
    assert await _property_runs(stack) == 0


def _req(path: str, headers: str, body: bytes = b"") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode("latin-1") + body


RAW_CASES = {
    "non-ascii header": _req(
        "/hooks/stargraph",
        "X-Stargraph-Timestamp: \xe9\xe9\r\nX-Stargraph-Signature: \xff\r\nContent-Length: 2\r\n",
        b"{}",
    ),
    "huge header": _req(
        "/hooks/stargraph", f"X-Stargraph-Signature: {'a' * 70000}\r\nContent-Length: 2\r\n", b"{}"
    ),
    "many headers": _req(
        "/hooks/github", "".join(f"X-H{i}: v\r\n" for i in range(500)) + "Content-Length: 0\r\n"
    ),
    "bad content-length": _req("/hooks/stargraph", "Content-Length: abc\r\n", b"{}"),
    "negative content-length": _req("/hooks/stargraph", "Content-Length: -5\r\n", b"{}"),
    "empty body": _req("/hooks/slack", "Content-Length: 0\r\n"),
    "bad chunking": _req("/hooks/stargraph", "Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n"),
    "http/1.0": b"POST /hooks/stripe HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}",
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 50,
}


@pytest.mark.parametrize("name", list(RAW_CASES))
async def test_raw_malformed_http_never_5xx(stack: Stack, name: str) -> None:
    head = await raw_request(stack.url, RAW_CASES[name], timeout=3)
    assert head.startswith(b"HTTP/1.1 "), head[:200]
    status = int(head.split(b" ", 2)[1])
    assert 400 <= status < 500, head[:200]
    assert await _property_runs(stack) == 0


async def test_truncated_request_is_not_a_5xx_and_server_survives(stack: Stack) -> None:
    body = b'{"truncated": true}'
    headers = signed("stargraph", body)
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    host, port = stack.url.removeprefix("http://").split(":")
    with anyio.fail_after(10):
        async with await anyio.connect_tcp(host, int(port)) as conn:
            await conn.send(_req("/trunc", lines + "Content-Length: 100\r\n", body[:8]))
        # The client went away mid-body; the server drops that request and keeps serving.
        r = await stack.post("/trunc", body, headers)
        assert r.status_code == 202
        r = await stack.post("/trunc", body, headers)
        assert r.status_code == 409
    async with httpx.AsyncClient() as c:
        r = await c.post(stack.url + "/trunc", content=b"{}")
        assert r.status_code == 401
