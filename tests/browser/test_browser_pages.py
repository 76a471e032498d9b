"""Every console page in a real Chromium: no console error, no failed request, no CSP violation,
the seeded data on it, readable with JavaScript off, and a screenshot of each."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from console_server import API_TOKEN, WEBHOOK_SECRET, Console
from page_watch import Watch, new_context, open_page, shoot


def pages(console: Console) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(screenshot name, path, texts the page must show)`` for every console page."""
    runs = console.runs
    return [
        ("overview", "/ui/", ("redis-stream", "cron:held")),
        ("runs", "/ui/runs", (runs["failed"], runs["succeeded"], "fs:inbox", "webhook:demo")),
        ("run-failed", f"/ui/runs/{runs['failed']}", ("browser-test failure on attempt 2",)),
        ("run-succeeded", f"/ui/runs/{runs['succeeded']}", ('"ada"',)),
        ("run-running", f"/ui/runs/{runs['running']}", ("Cancel run",)),
        ("triggers", "/ui/triggers", ("Europe/Paris", "/hooks/demo", "invalid_signature: 1")),
        ("plugins", "/ui/plugins", ("ConnectionError",)),
    ]


def _shows(page: Any, path: str, texts: tuple[str, ...]) -> None:
    body = page.inner_text("body")
    missing = [text for text in texts if text not in body]
    assert not missing, (path, missing)


def test_every_page_renders_cleanly(context: Any, console: Console, shots: Path) -> None:
    page, watch = open_page(context)
    for name, path, texts in pages(console):
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response)
        csp = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, (path, csp)
        assert page.locator("h1").count() == 1, (path, page.content())
        _shows(page, path, texts)
        html = page.content()
        assert WEBHOOK_SECRET not in html and API_TOKEN not in html, path
        watch.check()
        shoot(page, shots, console, name)


def test_every_link_answers(context: Any, console: Console) -> None:
    """Every console link on every page answers 200 (run links: the first three per page),
    and every ``#fragment`` it names is an element id on the page it leads to."""
    page, _ = open_page(context)
    links: set[str] = set()
    fragments: dict[str, set[str]] = {}
    for _, path, _ in pages(console):
        page.goto(path)
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        found = _console_links(hrefs, console.url)
        runs = [h for h in found if h.startswith("/ui/runs/")]
        links.update(h for h in found if h not in runs[3:])
        for href in hrefs:
            parts = urlsplit(href)
            if parts.fragment and parts.path.startswith("/ui"):
                fragments.setdefault(parts.path, set()).add(unquote(parts.fragment))
    for link in sorted(links):
        response = page.request.get(link)
        assert response.status == 200, (link, response.status)
    for path, names in fragments.items():
        page.goto(path)
        ids = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        assert names <= ids, (path, sorted(names - ids))
    assert len(links) >= 8 and fragments, (links, fragments)


def _console_links(hrefs: list[str], base: str) -> list[str]:
    """The same-site ``/ui`` links among *hrefs*, as path and query."""
    out = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" == base and parts.path.startswith("/ui"):
            out.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return out


def test_reading_works_without_javascript(browser: Any, console: Console, shots: Path) -> None:
    """Plain HTML: every page readable, the filter form works, with scripts turned off."""
    ctx = new_context(browser, console, java_script_enabled=False)
    try:
        page = ctx.new_page()
        watch = Watch(page)
        for _, path, texts in pages(console):
            page.goto(path)
            _shows(page, path, texts)
        page.goto("/ui/runs")
        page.get_by_label("Status").select_option("failed")
        with page.expect_navigation():
            page.get_by_role("button", name="Filter").click()
        assert "status=failed" in page.url
        body = page.inner_text("body")
        assert console.runs["failed"] in body and console.runs["succeeded"] not in body
        shoot(page, shots, console, "runs-no-js")
        watch.check()
    finally:
        ctx.close()


def test_times_show_the_browser_zone_with_utc_on_hover(browser: Any, console: Console) -> None:
    ctx = new_context(browser, console, timezone_id="Asia/Kolkata")
    try:
        page, watch = open_page(ctx)
        page.goto(f"/ui/runs/{console.runs['succeeded']}")
        stamp = page.locator("time").first
        assert re.search(r"\+05:?30|IST|GMT\+5:30", stamp.inner_text()), stamp.inner_text()
        assert "UTC" in (stamp.get_attribute("title") or ""), stamp.evaluate("e => e.outerHTML")
        watch.check()
    finally:
        ctx.close()
