"""The console's actions in a real Chromium, each checked through the JSON API afterwards."""

from __future__ import annotations

import time
from typing import Any

from console_server import Console
from page_watch import act, new_context, open_page


def _trigger_button(page: Any, trigger_id: str, label: str) -> Any:
    """The *label* button in the triggers page's row or section for *trigger_id*."""
    holder = page.locator(f'[id="{trigger_id}"]')
    return holder.get_by_role("button", name=label, exact=True)


def test_cancel_a_running_run(context: Any, console: Console) -> None:
    run_id = console.enqueue("slow", seconds=600)
    console.wait(run_id, "running")
    page, watch = open_page(context)
    page.goto(f"/ui/runs/{run_id}")
    assert act(page, page.get_by_role("button", name="Cancel run")) == "dialog"
    assert page.url.startswith(f"{console.url}/ui/runs/{run_id}"), page.url
    assert console.wait(run_id, "cancelled")["cancel_requested"] is True
    page.reload()
    assert "cancelled" in page.locator(".summary").inner_text()
    assert page.get_by_role("button", name="Cancel run").count() == 0
    watch.check()


def test_retry_a_failed_run(context: Any, console: Console) -> None:
    failed = console.runs["failed"]
    page, watch = open_page(context)
    page.goto(f"/ui/runs/{failed}")
    act(page, page.get_by_role("button", name="Retry run"))
    new_id = page.url.split("/ui/runs/", 1)[1].split("?", 1)[0]
    assert new_id != failed, page.url
    retry = console.wait(new_id, "failed")
    assert retry["retry_of"] == failed and retry["graph_id"] == "fail"
    assert failed in page.inner_text("body")  # the new run links back to the one it retries
    watch.check()


def test_pause_then_resume_a_trigger(context: Any, console: Console) -> None:
    page, watch = open_page(context)
    page.goto("/ui/triggers")
    act(page, _trigger_button(page, "cron:nightly", "Pause"))
    assert console.trigger("cron:nightly")["paused"] is True
    act(page, _trigger_button(page, "cron:nightly", "Resume"))
    assert console.trigger("cron:nightly")["paused"] is False
    assert _trigger_button(page, "cron:nightly", "Pause").count() == 1
    watch.check()


def test_fire_now_enqueues_a_run_of_the_trigger(context: Any, console: Console) -> None:
    before = {r["run_id"] for r in _runs_of(console, "cron:held")}
    page, watch = open_page(context)
    page.goto("/ui/triggers")
    act(page, _trigger_button(page, "cron:held", "Fire now"))
    fired = {r["run_id"] for r in _runs_of(console, "cron:held")} - before
    assert len(fired) == 1, fired
    (run_id,) = fired
    assert run_id in page.url, page.url
    console.wait(run_id, "succeeded")
    assert console.trigger("cron:held")["paused"] is True  # firing does not resume it
    watch.check()


def _runs_of(console: Console, trigger_id: str) -> list[dict[str, Any]]:
    items = console.api.get("/v1/runs", params={"trigger_id": trigger_id}).json()["items"]
    return list(items)


def test_a_post_without_the_csrf_token_changes_nothing(context: Any, console: Console) -> None:
    """Same cookies as the page, but not the form's token: refused, the trigger stays put."""
    page, _ = open_page(context)
    page.goto("/ui/triggers")
    answer = page.request.post(
        "/ui/triggers/cron:often/pause",
        form={"confirm": "yes", "csrf": "forged"},
        headers={"Origin": console.url},
    )
    assert answer.status == 403, answer.status
    time.sleep(0.1)
    assert console.trigger("cron:often")["paused"] is False


def test_fire_now_without_javascript_asks_on_a_page(browser: Any, console: Console) -> None:
    before = {r["run_id"] for r in _runs_of(console, "cron:held")}
    ctx = new_context(browser, console, java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.goto("/ui/triggers")
        assert act(page, _trigger_button(page, "cron:held", "Fire now")) == "page"
        fired = {r["run_id"] for r in _runs_of(console, "cron:held")} - before
        assert len(fired) == 1 and next(iter(fired)) in page.url, (fired, page.url)
    finally:
        ctx.close()


def test_live_refresh_shows_a_new_run_without_a_reload(context: Any, console: Console) -> None:
    page, watch = open_page(context)
    page.clock.install()  # the page's timers run on a clock the test moves forward
    page.goto("/ui/runs?graph_id=ok")
    page.evaluate("window.__samePage = true")
    page.get_by_label("Refresh every", exact=False).check()
    run_id = console.enqueue("ok", note="live")
    page.clock.run_for(10_000)  # past the page's refresh period (5 s)
    page.locator(f'#runs-table a:text-is("{run_id}")').wait_for()
    stamp = page.locator(f'#runs-table tr:has(a:text-is("{run_id}")) time').first
    assert "UTC" in (stamp.get_attribute("title") or ""), stamp.evaluate("e => e.outerHTML")
    assert page.evaluate("window.__samePage") is True  # swapped in place, not reloaded
    assert page.get_by_label("Refresh every", exact=False).is_checked()
    watch.check()
