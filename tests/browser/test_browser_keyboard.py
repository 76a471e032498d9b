"""Keyboard-only use in a real Chromium: Tab reaches every action, Enter performs it."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from console_server import Console
from page_watch import open_page

# What a keyboard user must be able to reach: links, buttons, form fields, disclosures.
FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea, summary"
# Form fields a screen reader could not name (no <label for>, no aria-label).
UNLABELLED_FIELDS = "input:not([type=hidden]):not([aria-label]), select:not([aria-label])"
NO_LABEL = "els => els.filter(e => !e.labels.length).map(e => e.name || e.id)"
DESCRIBE = """e => `${e.tagName.toLowerCase()}|${e.getAttribute("href") || ""}|` +
  `${e.getAttribute("name") || e.id || ""}|${(e.innerText || e.value || "").trim()}|` +
  `${e.closest("form") ? e.closest("form").getAttribute("action") : ""}`"""


def _tab_stops(page: Any, wanted: set[str]) -> set[str]:
    """Press Tab from the top of the page until every *wanted* element has had focus (or a
    bound is hit: a date field alone takes several stops); return what had focus."""
    page.evaluate(
        f"window.__stops = []; document.addEventListener('focusin', "
        f"(e) => window.__stops.push(({DESCRIBE})(e.target)))"
    )
    stops: set[str] = set()
    for _ in range(4 + len(wanted) // 4):
        for _ in range(10):
            page.keyboard.press("Tab")
        stops = set(page.evaluate("window.__stops"))
        if wanted <= stops:
            break
    return stops


def _visible_controls(page: Any) -> list[str]:
    controls = page.locator(FOCUSABLE)
    return [
        controls.nth(i).evaluate(DESCRIBE)
        for i in range(controls.count())
        if controls.nth(i).is_visible()
    ]


def test_tab_reaches_every_control_of_the_action_pages(context: Any, console: Console) -> None:
    """The pages with actions or forms (the others hold only links, reached the same way)."""
    paths = [
        "/ui/runs?graph_id=fail", "/ui/triggers",
        f"/ui/runs/{console.runs['failed']}", f"/ui/runs/{console.runs['running']}",
    ]  # fmt: skip
    page, watch = open_page(context)
    for path in paths:
        page.goto(path)
        controls = set(_visible_controls(page))
        missing = controls - _tab_stops(page, controls)
        assert not missing, (path, sorted(missing))
        unlabelled = page.eval_on_selector_all(UNLABELLED_FIELDS, NO_LABEL)
        assert not unlabelled, (path, unlabelled)
    watch.check()


def _tab_to(page: Any, button_text: str, form_action: str) -> None:
    for _ in range(400):
        page.keyboard.press("Tab")
        parts = page.evaluate(f"({DESCRIBE})(document.activeElement)").split("|")
        action = unquote(parts[4])
        if parts[0] == "button" and parts[3] == button_text and action.endswith(form_action):
            return
    raise AssertionError(f"Tab never reached {button_text!r} of {form_action}")


def _press_enter_and_confirm(page: Any) -> None:
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.keyboard.press("Enter")
    if page.locator("input[name=confirm][value=yes]").count():
        page.locator("body").focus()
        for _ in range(100):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.type") == "submit":
                break
        with page.expect_navigation():
            page.keyboard.press("Enter")


def test_pause_and_resume_with_the_keyboard_alone(context: Any, console: Console) -> None:
    page, watch = open_page(context)
    page.goto("/ui/triggers")
    _tab_to(page, "Pause", "/ui/triggers/webhook:demo/pause")
    _press_enter_and_confirm(page)
    assert console.trigger("webhook:demo")["paused"] is True
    page.locator("body").focus()
    _tab_to(page, "Resume", "/ui/triggers/webhook:demo/resume")
    _press_enter_and_confirm(page)
    assert console.trigger("webhook:demo")["paused"] is False
    watch.check()
