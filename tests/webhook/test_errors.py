"""Every error code through the real server, the size limit, pause, saturation, logs, metrics."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from typing import Any

import anyio
import httpx
import pytest
from _settings import settings as scheduler_settings

from stargraph.errors import StoreError
from stargraph.triggers.webhook.deadlines import BodyDeadlines

from .conftest import webhook_stack
from .test_e2e import signed, spec

SECRET = "s3cret-value"


def failing_extractor(body: bytes, headers: Any) -> dict[str, Any]:
    raise RuntimeError(f"extractor broke near {SECRET}")


def _code(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/json"), r.text
    code: str = r.json()["error"]["code"]
    assert isinstance(r.json()["error"]["message"], str)
    return code


async def test_every_error_code(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    specs = [
        spec("stargraph"),
        spec("github", params="form", path="/form"),
        spec(
            "stripe", params=f"{__name__}:failing_extractor", path="/ext", trigger_id="webhook:ext"
        ),
        spec("standard-webhooks", max_body_bytes=64, path="/small", trigger_id="w:small"),
    ]
    caplog.set_level(logging.INFO, logger="stargraph")
    async with webhook_stack(sqlite_url, specs) as st:
        with anyio.fail_after(15):
            now = int(time.time())
            p = "/hooks/stargraph"
            cases: list[tuple[str, bytes, dict[str, str], int, str]] = [
                (p, b"{}", {}, 401, "missing_headers"),
                (
                    p,
                    b"{}",
                    {"X-Stargraph-Timestamp": "12x", "X-Stargraph-Signature": "a" * 64},
                    401,
                    "invalid_timestamp",
                ),
                (
                    p,
                    b"{}",
                    signed("stargraph", b"{}", timestamp=now - 3600),
                    401,
                    "timestamp_out_of_window",
                ),
                (p, b"{}", signed("stargraph", b"{}", secret="wrong"), 401, "invalid_signature"),
                (p, b"{", signed("stargraph", b"{"), 400, "invalid_body_json"),
                (p, b"\xff\xfe", signed("stargraph", b"\xff\xfe"), 400, "invalid_body_json"),
                (p, b"[1,2]", signed("stargraph", b"[1,2]"), 400, "body_not_json_object"),
                ("/form", b"%%%", signed("github", b"%%%"), 400, "invalid_body_form"),
                ("/ext", b"{}", signed("stripe", b"{}"), 422, "params_extractor_failed"),
                ("/small", b"x" * 65, {}, 413, "payload_too_large"),
                (
                    "/form",
                    b"a=1",
                    {**signed("github", b"a=1"), "X-GitHub-Delivery": "a b"},
                    400,
                    "invalid_header",
                ),
            ]
            for path, body, headers, status, code in cases:
                r = await st.post(path, body, headers)
                assert (r.status_code, _code(r)) == (status, code), (code, r.text)
            headers = signed("stargraph", b'{"k": 1}')
            assert (await st.post(p, b'{"k": 1}', headers)).status_code == 202
            r = await st.post(p, b'{"k": 1}', headers)
            assert (r.status_code, _code(r)) == (409, "duplicate_nonce")
            assert await st.run_count() == 1
            metric = st.scheduler.metrics.webhook_rejections
            assert (
                metric.labels(
                    trigger_id="webhook:stargraph", reason="invalid_signature"
                )._value.get()
                == 1
            )
            assert (
                metric.labels(
                    trigger_id="webhook:ext", reason="params_extractor_failed"
                )._value.get()
                == 1
            )
    rejected = [r for r in caplog.records if r.getMessage() == "webhook.rejected"]
    assert len(rejected) == len(cases) + 1
    reasons = {r.stargraph["reason"] for r in rejected}  # type: ignore[attr-defined]
    assert reasons == {c[4] for c in cases} | {"duplicate_nonce"}
    for record in caplog.records:
        text = json.dumps(getattr(record, "stargraph", {}), default=str) + record.getMessage()
        assert SECRET not in text and "wrong" not in text
        assert headers["X-Stargraph-Signature"] not in text


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


async def raw_request(url: str, data: bytes, timeout: float = 5, *, full: bool = False) -> bytes:
    """Send *data* on a new connection; return the answer's head (or all of it, *full*)."""
    host, port = url.removeprefix("http://").split(":")
    out = b""
    with anyio.move_on_after(timeout):
        async with await anyio.connect_tcp(host, int(port)) as conn:
            await conn.send(data)
            try:
                while b"\r\n\r\n" not in out or (full and not _complete(out)):
                    out += await conn.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                pass
    return out


async def test_size_limit(sqlite_url: str) -> None:
    sp = spec("stargraph", max_body_bytes=1000)
    async with webhook_stack(sqlite_url, [sp]) as st:
        with anyio.fail_after(15):
            exact = b"{" + b" " * 998 + b"}"
            r = await st.post(sp.path, exact, signed("stargraph", exact))
            assert r.status_code == 202, r.text
            over = exact + b" "
            r = await st.post(sp.path, over, signed("stargraph", over))
            assert (r.status_code, _code(r)) == (413, "payload_too_large")
            # A large declared body is refused from its Content-Length alone: the answer
            # arrives although not one byte of the body was sent.
            head = await raw_request(
                st.url,
                f"POST {sp.path} HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n".encode(),
            )
            assert head.startswith(b"HTTP/1.1 413"), head
            # Chunked: refused once 1000 bytes were counted, while the client still holds more.
            chunk = b"%x\r\n%s\r\n" % (600, b" " * 600)
            head = await raw_request(
                st.url,
                f"POST {sp.path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                + chunk
                + chunk,
            )
            assert head.startswith(b"HTTP/1.1 413"), head
            assert await st.run_count() == 1


async def test_paused_trigger_answers_503_then_resumes(sqlite_url: str) -> None:
    sp = spec("stargraph")
    async with webhook_stack(sqlite_url, [sp]) as st:
        with anyio.fail_after(15):
            info = await st.trigger.pause(sp.trigger_id, note="maintenance")
            assert info.paused and info.note == "maintenance" and info.kind == "webhook"
            body = b'{"p": 1}'
            r = await st.post(sp.path, body, signed("stargraph", body))
            assert (r.status_code, _code(r)) == (503, "trigger_paused")
            assert int(r.headers["retry-after"]) >= 1
            assert await st.run_count() == 0
            assert not (await st.trigger.resume(sp.trigger_id)).paused
            r = await st.post(sp.path, body, signed("stargraph", body))
            assert r.status_code == 202
    # The pause is persisted: a new runtime on the same store starts paused.
    async with webhook_stack(sqlite_url, [sp]) as st:
        await st.trigger.pause(sp.trigger_id)
    async with webhook_stack(sqlite_url, [sp]) as st:
        with anyio.fail_after(15):
            assert (await st.trigger.describe())[0].paused
            r = await st.post(sp.path, body, signed("stargraph", body))
            assert (r.status_code, _code(r)) == (503, "trigger_paused")


def _hold_write_lock(path: str, locked: threading.Event, release: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    locked.set()
    release.wait(10)
    conn.execute("ROLLBACK")
    conn.close()


async def test_saturated_scheduler_answers_503_with_retry_after(sqlite_url: str) -> None:
    sp = spec("github")
    settings = scheduler_settings(intake_capacity=1)
    async with webhook_stack(sqlite_url, [sp], settings=settings) as st:
        with anyio.fail_after(20):
            locked, release = threading.Event(), threading.Event()
            path = sqlite_url.removeprefix("sqlite:///")
            thread = threading.Thread(target=_hold_write_lock, args=(path, locked, release))
            thread.start()
            try:
                await anyio.to_thread.run_sync(locked.wait)
                results: list[int] = []

                async def send(n: int) -> None:
                    body = json.dumps({"n": n}).encode()
                    r = await st.post(sp.path, body, signed("github", body))
                    results.append(r.status_code)
                    if r.status_code == 503:
                        assert _code(r) == "scheduler_busy"
                        assert int(r.headers["retry-after"]) >= 1

                async with anyio.create_task_group() as tg:
                    for n in range(6):
                        tg.start_soon(send, n)
                        await anyio.sleep(0.1)
                    await anyio.sleep(0.3)
                    release.set()
            finally:
                release.set()
                await anyio.to_thread.run_sync(thread.join)
            assert 503 in results and 202 in results, results
            assert set(results) <= {202, 503}
            assert await st.run_count() == results.count(202)


@pytest.mark.parametrize("watchdog", [True, False])
async def test_stalled_body_times_out_with_408(sqlite_url: str, watchdog: bool) -> None:
    sp = spec("stargraph")
    async with webhook_stack(sqlite_url, [sp], app_config={"BODY_TIMEOUT": 1}) as st:
        if not watchdog:  # the fallback path: a cancel scope per read
            st.trigger._deadlines = BodyDeadlines()
        assert (st.trigger.deadlines is not None) and st.trigger.deadlines.running is watchdog
        body = b'{"stalled": true}'
        lines = "".join(f"{k}: {v}\r\n" for k, v in signed("stargraph", body).items())
        start = time.monotonic()
        head = await raw_request(
            st.url,
            f"POST {sp.path} HTTP/1.1\r\nHost: x\r\n{lines}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:5],
            timeout=10,
            full=True,
        )
        assert head.startswith(b"HTTP/1.1 408"), head
        assert 0.9 < time.monotonic() - start < 8  # BODY_TIMEOUT = 1 s; Quart's default is 60 s
        assert b'"code":"body_timeout"' in head
        assert await st.run_count() == 0


async def test_failed_commit_does_not_consume_the_nonce(sqlite_url: str) -> None:
    sp = spec("stargraph")
    async with webhook_stack(sqlite_url, [sp]) as st:
        with anyio.fail_after(20):
            body = b'{"retry": "as is"}'
            headers = signed("stargraph", body)
            store: Any = st.store
            real = store.enqueue_batch

            async def fail_once(requests: Any) -> Any:
                store.enqueue_batch = real
                raise StoreError("injected: the disk is full")

            store.enqueue_batch = fail_once  # the nonce table itself still works
            r = await st.post(sp.path, body, headers)
            assert (r.status_code, _code(r)) == (503, "unavailable"), r.text
            assert int(r.headers["retry-after"]) >= 1
            r = await st.post(sp.path, body, headers)  # the very same bytes
            assert r.status_code == 202 and r.json()["deduplicated"] is False, r.text
            r = await st.post(sp.path, body, headers)
            assert (r.status_code, _code(r)) == (409, "duplicate_nonce")


async def test_pause_on_one_node_reaches_another(sqlite_url: str) -> None:
    sp = spec("github")
    async with webhook_stack(sqlite_url, [sp]) as a, webhook_stack(sqlite_url, [sp]) as b:
        with anyio.fail_after(15):
            await a.trigger.pause(sp.trigger_id, note="from node a")
            await b.trigger._refresh()  # what b's refresh loop does every few seconds
            body = b'{"x": 1}'
            r = await b.post(sp.path, body, signed("github", body))
            assert (r.status_code, _code(r)) == (503, "trigger_paused")
            assert (await b.trigger.describe())[0].note == "from node a"
            await a.trigger.resume(sp.trigger_id)
            await b.trigger._refresh()
            assert (await b.post(sp.path, body, signed("github", body))).status_code == 202
