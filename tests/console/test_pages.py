"""Every console page renders from the same data the API answers, filters narrow, pages chain."""

from __future__ import annotations

import re
from typing import Any

import anyio

from .conftest import Console

_RUN_LINK = re.compile(r'<th scope="row"><a href="/ui/runs/([^"]+)">')


async def enqueue(c: Console, graph_id: str, **params: Any) -> str:
    response = await c.api.post("/v1/runs", json={"graph_id": graph_id, "params": params})
    assert response.status_code == 202, response.text
    return str(response.json()["run_id"])


async def finished(c: Console, run_id: str) -> dict[str, Any]:
    with anyio.fail_after(10):
        while True:
            run: dict[str, Any] = (await c.api.get(f"/v1/runs/{run_id}")).json()
            if run["status"] in ("succeeded", "failed", "cancelled"):
                return run
            await anyio.sleep(0.02)


def listed(html: str) -> list[str]:
    """Run ids of a runs page, in order."""
    return _RUN_LINK.findall(html)


async def test_overview_shows_counts_charts_and_lag(console: Console) -> None:
    await finished(console, await enqueue(console, "ok", n=1))
    counts = (await console.browser.get("/ui/")).text
    assert "<h1>Overview</h1>" in counts
    succeeded = (await console.api.get("/v1/runs?status=succeeded&limit=1000")).json()["items"]
    assert f'data-count="succeeded">{len(succeeded)}<' in counts
    assert counts.count("<svg") == 2 and "runs finished per minute" in counts
    assert "Fire lag of time triggers" in counts and "Queue depth" in counts


async def test_overview_lists_paused_triggers_first(console: Console) -> None:
    await console.api.post("/v1/triggers/webhook:test/pause", json={"note": "maintenance"})
    try:
        html = (await console.browser.get("/ui/")).text
        attention = html.split("Needs attention", 1)[1].split("</section>", 1)[0]
        assert "webhook:test" in attention and "maintenance" in attention
    finally:
        await console.api.post("/v1/triggers/webhook:test/resume")


async def test_run_page_shows_params_error_traceback_and_timings(console: Console) -> None:
    run_id = await enqueue(console, "fail", answer=42)
    await finished(console, run_id)
    html = (await console.browser.get(f"/ui/runs/{run_id}")).text
    assert f"<code>{run_id}</code>" in html
    assert "&#34;answer&#34;: 42" in html  # params, escaped JSON
    assert "RuntimeError" in html and "graph failed on purpose" in html
    assert "Traceback" in html and "raise RuntimeError" in html
    assert html.count("<time datetime=") >= 3  # enqueued, started, finished
    assert "Retry run" in html and "Cancel run" not in html


async def test_run_page_shows_the_result(console: Console) -> None:
    run_id = await enqueue(console, "ok", word="hello")
    await finished(console, run_id)
    html = (await console.browser.get(f"/ui/runs/{run_id}")).text
    assert '<h2 id="result-h">Result</h2>' in html and "&#34;echo&#34;" in html


async def test_unknown_run_is_404(console: Console) -> None:
    for path in ("/ui/runs/no-such-run", "/ui/runs/%00bad"):
        response = await console.browser.get(path)
        assert response.status_code == 404, path
        assert "run not found" in response.text


async def test_filters_narrow_to_what_the_api_lists(console: Console) -> None:
    for graph in ("ok", "fail", "ok"):
        await finished(console, await enqueue(console, graph))
    fired = (await console.api.post("/v1/triggers/cron:yearly/fire")).json()["run_id"]
    for query in (
        "graph_id=fail", "status=succeeded", "trigger_id=cron:yearly", "trigger_source=cron",
        "trigger_source=manual&graph_id=ok", "since=2999-01-01T00:00:00Z",
    ):  # fmt: skip
        api = (await console.api.get(f"/v1/runs?{query}&limit=1000")).json()["items"]
        page = (await console.browser.get(f"/ui/runs?{query}&limit=1000")).text
        assert listed(page) == [r["run_id"] for r in api], query
    assert listed((await console.browser.get("/ui/runs?trigger_id=cron:yearly")).text) == [fired]
    everything = listed((await console.browser.get("/ui/runs?limit=1000")).text)
    assert len(listed((await console.browser.get("/ui/runs?graph_id=fail")).text)) < len(everything)


async def test_the_form_sends_empty_fields_and_local_times(console: Console) -> None:
    form = "graph_id=&status=&trigger_id=&trigger_source=&since=2000-01-01T00:00&until="
    response = await console.browser.get(f"/ui/runs?{form}")
    assert response.status_code == 200 and listed(response.text)
    bad = await console.browser.get("/ui/runs?status=nope")
    assert bad.status_code == 400 and "status must be one of" in bad.text


async def test_keyset_pages_chain_without_gaps(console: Console) -> None:
    for i in range(5):
        await enqueue(console, "ok", page=i)
    expected = [r["run_id"] for r in (await console.api.get("/v1/runs?limit=1000")).json()["items"]]
    seen: list[str] = []
    url: str | None = "/ui/runs?limit=2"
    while url is not None:
        html = (await console.browser.get(url)).text
        seen += listed(html)
        match = re.search(r'<a rel="next" href="([^"]+)">', html)
        url = match.group(1).replace("&amp;", "&") if match else None
        assert url is None or "First page" in html or len(seen) == 2
    assert seen == expected


async def test_triggers_page_shows_schedule_fires_and_webhook(console: Console) -> None:
    body = b'{"event": "bad"}'
    await console.anon.post("/hooks/test", content=body, headers={"X-Stargraph-Signature": "x"})
    html = (await console.browser.get("/ui/triggers")).text
    cron = html.split('id="cron:yearly"', 1)[1].split("</section>", 1)[0]
    assert "<code>0 0 1 1 *</code>" in cron and "Missed fires" in cron and "Overlap" in cron
    assert cron.count("<li><time datetime=") == 5  # the next five fires
    hook = html.split('id="webhook:test"', 1)[1].split("</section>", 1)[0]
    assert "<code>/hooks/test</code>" in hook and "stargraph" in hook
    assert re.search(r"<li>[a-z_]+: 1</li>", hook), hook  # one rejection, by code
    assert "Pause" in hook and "Fire now" in hook and "restarts 0" in hook


async def test_plugins_page_lists_the_load_report(console: Console) -> None:
    html = (await console.browser.get("/ui/plugins")).text
    names = [p["name"] for p in (await console.api.get("/v1/plugins")).json()["items"]]
    assert names and all(f"<code>{name}</code>" in html for name in names)


async def test_static_assets_are_served(console: Console) -> None:
    for name, kind in (("console.css", "text/css"), ("console.js", "javascript")):
        response = await console.browser.get(f"/ui/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]


async def test_pages_have_landmarks_labels_and_no_inline_code(console: Console) -> None:
    run_id = await enqueue(console, "ok")
    for path in ("/ui/", "/ui/runs", f"/ui/runs/{run_id}", "/ui/triggers", "/ui/plugins"):
        html = (await console.browser.get(path)).text
        assert '<main id="main"' in html and "<nav" in html and "<h1>" in html, path
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html), path
        for field in re.findall(r'<input id="([^"]+)"', html):
            assert f'<label for="{field}"' in html, (path, field)


def test_a_plugin_back_up_after_a_crash_still_needs_attention() -> None:
    from stargraph.hosting import PluginState, PluginStatus
    from stargraph.serve.console._data import _failing

    def status(state: PluginState, error: str | None, restarts: int) -> PluginStatus:
        return PluginStatus(name="p", state=state, error=error, restarts=restarts)

    assert _failing(status(PluginState.restarting, "ConnectionError: refused", 1))
    assert _failing(status(PluginState.running, "ConnectionError: refused", 2))  # between crashes
    assert not _failing(status(PluginState.running, "ConnectionError: refused", 0))  # stable again
    assert not _failing(status(PluginState.running, None, 0))
