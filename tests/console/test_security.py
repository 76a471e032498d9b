"""Console security: login session cookie, CSRF, CSP, loopback rule, no secret in any page."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import httpx
import pytest

from stargraph.serve.console._session import Session, SessionCodec

from .conftest import CONSOLE_SECRET, HOOK_SECRET, TOKEN, Console, csrf_of, login
from .test_pages import enqueue, finished

PAGES = ("/ui/", "/ui/runs", "/ui/triggers", "/ui/plugins")


async def test_unauthenticated_requests_see_no_run_data(console: Console) -> None:
    run_id = await enqueue(console, "ok", marker="params-marker-3e1")
    for path in (*PAGES, f"/ui/runs/{run_id}", "/ui/unknown", "/ui"):
        response = await console.anon.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"].startswith("/ui/login?next=")
        assert "params-marker-3e1" not in response.text
        assert path.endswith(run_id) or run_id not in response.text
    blocked = await console.anon.post(f"/ui/runs/{run_id}/cancel", data={"confirm": "yes"})
    assert blocked.status_code == 303 and "/ui/login" in blocked.headers["Location"]


async def test_login_sets_a_strict_httponly_cookie(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as client:
        response = await login(client)
        assert response.status_code == 303 and response.headers["Location"] == "/ui/runs"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui" in cookie
        assert "Secure" not in cookie  # plain http on loopback
        assert (await client.get("/ui/runs")).status_code == 200


async def test_a_wrong_token_is_refused(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as client:
        response = await login(client, token="not-the-token")
        assert response.status_code == 401 and "not the API token" in response.text
        assert (await client.get("/ui/runs")).status_code == 303


async def test_a_forged_or_foreign_cookie_is_refused(console: Console) -> None:
    other = SessionCodec(b"another-secret")
    forged = other.dump(Session.fresh(auth=other.fingerprint(TOKEN)))
    own = SessionCodec(CONSOLE_SECRET.encode())
    stale = own.dump(Session.fresh(auth=own.fingerprint("an-old-token")))  # token rotated
    for value in (forged, stale, "garbage"):
        async with httpx.AsyncClient(base_url=console.url) as client:
            client.cookies.set("stargraph_console", value, path="/ui")
            assert (await client.get("/ui/runs")).status_code == 303


async def test_logout_ends_the_session(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as client:
        await login(client)
        csrf = csrf_of((await client.get("/ui/runs")).text)
        response = await client.post("/ui/logout", data={"csrf": csrf})
        assert response.status_code == 303
        assert "stargraph_console=" in response.headers["set-cookie"]
        assert (await client.get("/ui/runs")).status_code == 303


async def test_posts_need_the_session_csrf_token(console: Console) -> None:
    run_id = await enqueue(console, "fail")
    await finished(console, run_id)
    path = f"/ui/runs/{run_id}/retry"
    async with httpx.AsyncClient(base_url=console.url) as other:
        await login(other)
        foreign = csrf_of((await other.get("/ui/runs")).text)
    own = await console.csrf()
    for form, headers in (
        ({"confirm": "yes"}, {}),
        ({"confirm": "yes", "csrf": "wrong"}, {}),
        ({"confirm": "yes", "csrf": foreign}, {}),
        ({"confirm": "yes", "csrf": own}, {"Origin": "http://evil.example"}),
        ({"confirm": "yes", "csrf": own}, {"Origin": "null"}),
    ):
        response = await console.browser.post(path, data=form, headers=headers)
        assert response.status_code == 403, (form, headers)
    retries = (await console.api.get("/v1/runs?limit=1000")).json()["items"]
    assert not [r for r in retries if r["retry_of"] == run_id]
    ok = await console.browser.post(path, data={"confirm": "yes", "csrf": own})
    assert ok.status_code == 303


async def test_every_console_answer_has_the_csp(console: Console) -> None:
    run_id = await enqueue(console, "ok")
    paths = (*PAGES, f"/ui/runs/{run_id}", "/ui/runs/nope", "/ui/static/console.js", "/ui/x")
    for client, path in [(console.browser, p) for p in paths] + [(console.anon, "/ui/runs")]:
        response = await client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "default-src 'none'" in csp, path
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in (await console.api.get("/v1/runs")).headers


async def test_no_secret_appears_in_any_page(console: Console, tmp_path: Path) -> None:
    run_id = await enqueue(console, "fail")
    await finished(console, run_id)
    await console.browser.post(f"/ui/runs/{run_id}/retry", data={"csrf": await console.csrf()})
    pages = [*PAGES, f"/ui/runs/{run_id}", "/ui/runs/nope", "/ui/login"]
    bodies = [(await console.browser.get(p)).text for p in pages]
    bodies.append((await console.anon.get("/ui/login")).text)
    confirm = await console.browser.post(
        "/ui/triggers/webhook:test/pause", data={"csrf": await console.csrf()}
    )
    bodies.append(confirm.text)
    db_path = console.runtime.store.url.split("///", 1)[1]
    for body in bodies:
        for secret in (TOKEN, HOOK_SECRET, CONSOLE_SECRET, db_path):
            assert secret not in body


def _outside_address() -> str | None:
    """A non-loopback IPv4 address of this machine, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
        except OSError:
            return None
        address = str(sock.getsockname()[0])
    return None if address.startswith("127.") else address


async def test_without_a_token_only_loopback_is_served(open_console: str) -> None:
    async with httpx.AsyncClient(base_url=open_console) as client:
        page = await client.get("/ui/runs")
        assert page.status_code == 200 and "Log out" not in page.text
        rebinding = await client.get("/ui/runs", headers={"Host": "evil.example"})
        assert rebinding.status_code == 403 and "<table" not in rebinding.text
        no_csrf = await client.post("/ui/triggers/cron:yearly/pause", data={"confirm": "yes"})
        assert no_csrf.status_code == 403
        login_page = await client.get("/ui/login")
        assert login_page.status_code == 303 and login_page.headers["Location"] == "/ui/"
    address = _outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to test from")
    port = open_console.rsplit(":", 1)[1]
    async with httpx.AsyncClient(base_url=f"http://{address}:{port}") as outside:
        response = await outside.get("/ui/runs")
        assert response.status_code == 403 and "loopback" in response.text
        assert (await outside.get("/healthz")).status_code == 200  # the API side is unchanged


def test_session_cookie_round_trip() -> None:
    codec = SessionCodec(b"k")
    session = Session.fresh(auth="abc")
    assert codec.load(codec.dump(session)) == session
    assert codec.load(codec.dump(session)[:-2] + "xx") is None
    assert re.fullmatch(r"[0-9a-f]{32}", codec.fingerprint("t"))
