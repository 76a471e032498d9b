"""The login flow in a real Chromium, and what a visitor without a session can see."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from console_server import API_TOKEN, Console
from page_watch import VIEWPORT, open_page, shoot


def _fresh(browser: Any, console: Console) -> Any:
    ctx = browser.new_context(viewport=VIEWPORT, base_url=console.url)
    ctx.set_default_timeout(5000)
    return ctx


def _no_run_data(text: str, console: Console, asked: str = "") -> None:
    """No seeded run id (but one the visitor named in the URL *asked*) and no run detail."""
    for label, run_id in console.runs.items():
        assert run_id in asked or run_id not in text, f"{label} run {run_id} shown"
    assert "browser-test failure" not in text and "cron:nightly" not in text


def test_unauthenticated_requests_see_no_run_data(console: Console) -> None:
    if not console.token:
        pytest.skip("no API token: the console is open on loopback (tested below)")
    failed = f"/ui/runs/{console.runs['failed']}"
    paths = ["/ui/", "/ui/runs", failed, "/ui/triggers", "/ui/plugins"]
    with httpx.Client(base_url=console.url, timeout=10) as anonymous:
        for path in paths:
            answer = anonymous.get(path)
            assert answer.status_code in (303, 401), (path, answer.status_code)
            _no_run_data(answer.text, console, asked=path)
        cancel = f"/ui/runs/{console.runs['running']}/cancel"
        action = anonymous.post(cancel, data={"confirm": "yes"})
        assert action.status_code in (303, 401, 403), action.status_code
    assert console.run(console.runs["running"])["status"] == "running"


def test_login_flow(browser: Any, console: Console, shots: Any) -> None:
    if not console.token:
        pytest.skip("no API token: no login form")
    ctx = _fresh(browser, console)
    try:
        page, watch = open_page(ctx, allow_status=frozenset({401}))  # the wrong token's answer
        page.goto("/ui/runs?status=failed")
        assert "/ui/login" in page.url, page.url
        _no_run_data(page.inner_text("body"), console)
        shoot(page, shots, console, "login")
        page.locator("input[type=password]").fill("not-the-token")
        with page.expect_navigation():
            page.locator("input[type=password]").press("Enter")
        _no_run_data(page.inner_text("body"), console)
        assert page.locator("input[type=password]").count() == 1
        page.locator("input[type=password]").fill(API_TOKEN)
        with page.expect_navigation():
            page.locator("input[type=password]").press("Enter")
        assert page.url.endswith("/ui/runs?status=failed"), page.url  # back where it was going
        assert console.runs["failed"] in page.inner_text("body")
        (cookie,) = [c for c in ctx.cookies() if c["path"] == "/ui"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
        assert API_TOKEN not in cookie["value"]
        with page.expect_navigation():
            page.get_by_role("button", name="Log out").click()
        page.goto("/ui/runs")
        assert "/ui/login" in page.url
        _no_run_data(page.inner_text("body"), console)
        watch.check()
    finally:
        ctx.close()


def test_open_console_needs_no_login(browser: Any, console: Console) -> None:
    if console.token:
        pytest.skip("an API token is set: the login flow is tested above")
    ctx = _fresh(browser, console)
    try:
        page, watch = open_page(ctx)
        page.goto("/ui/runs")
        assert page.url.endswith("/ui/runs") and console.runs["failed"] in page.inner_text("body")
        assert page.locator("input[type=password]").count() == 0
        assert page.get_by_role("button", name="Log out").count() == 0
        watch.check()
    finally:
        ctx.close()
