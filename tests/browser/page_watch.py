"""Page helpers for the browser tests: record every console error, page error, CSP violation
and failed request of a page, log in through the form, and save screenshots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from console_server import Console

VIEWPORT = {"width": 1280, "height": 800}
_SESSIONS: dict[str, Any] = {}  # server URL -> storage state after logging in

# Runs in every page before its own scripts (injected over CDP, so the page's CSP allows it).
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


class Watch:
    """Collects what went wrong on one page: ``problems`` is empty on a clean page."""

    def __init__(self, page: Any, *, allow_status: frozenset[int] = frozenset()) -> None:
        self.page = page
        self.problems: list[str] = []
        self._allow = allow_status
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, msg: Any) -> None:
        allowed = (f"status of {code} " for code in self._allow)
        if msg.text.startswith("Failed to load resource") and any(a in msg.text for a in allowed):
            return  # an answer the test expects (and _response already vetted)
        if msg.type in ("error", "warning"):
            self.problems.append(f"console {msg.type}: {msg.text} ({msg.location})")

    def _failed(self, request: Any) -> None:
        self.problems.append(f"request failed: {request.method} {request.url} {request.failure}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.status not in self._allow:
            method = response.request.method
            self.problems.append(f"HTTP {response.status}: {method} {response.url}")

    def check(self) -> None:
        """Fail with every problem seen so far, CSP violations included."""
        if self.page.context.browser is not None and _js_enabled(self.page):
            violations = self.page.evaluate("window.__cspViolations || []")
            self.problems.extend(f"CSP violation: {v}" for v in violations)
        assert not self.problems, "\n".join([self.page.url, *self.problems])


def _js_enabled(page: Any) -> bool:
    try:
        return bool(page.evaluate("true"))
    except Exception:  # evaluate still works with JS disabled in Playwright; be safe
        return False


def open_page(context: Any, allow_status: frozenset[int] = frozenset()) -> tuple[Any, Watch]:
    """A new page of *context* with a :class:`Watch` and the CSP recorder attached."""
    page = context.new_page()
    page.add_init_script(CSP_RECORDER)
    return page, Watch(page, allow_status=allow_status)


def login(context: Any, console: Console) -> None:
    """Log in through the console's form with the API token (the form's only password field)."""
    page, watch = open_page(context)
    page.goto("/ui")
    page.locator("input[type=password]").fill(str(console.token))
    page.locator("input[type=password]").press("Enter")
    page.wait_for_load_state()
    assert page.locator("input[type=password]").count() == 0, page.content()
    watch.check()
    page.close()


def new_context(browser: Any, console: Console, **options: Any) -> Any:
    """A browser context on *console*, holding a login session when the server has a token.

    The first context per server logs in through the form; later ones reuse its cookies.
    """
    state = _SESSIONS.get(console.url)
    if console.token and state is None:
        ctx = browser.new_context(viewport=VIEWPORT, base_url=console.url)
        ctx.set_default_timeout(5000)
        login(ctx, console)
        state = _SESSIONS[console.url] = ctx.storage_state()
        ctx.close()
    ctx = browser.new_context(
        viewport=VIEWPORT, base_url=console.url, storage_state=state, **options
    )
    ctx.set_default_timeout(5000)
    return ctx


def screenshot_dir(basetemp: Path) -> Path:
    """``$STARGRAPH_SCREENSHOTS`` if set, else ``<basetemp>/screenshots`` (created)."""
    folder = Path(os.environ.get("STARGRAPH_SCREENSHOTS") or basetemp / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page: Any, folder: Path, console: Console, name: str) -> Path:
    """Save a full-page screenshot as ``<folder>/<backend>-<open|token>/<name>.png``."""
    path = folder / console.label / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def act(page: Any, button: Any) -> str:
    """Press an action *button* and confirm it; return how: ``"dialog"`` or ``"page"``.

    With JavaScript the console asks with a ``confirm()`` dialog (accepted here); without it
    the server answers a confirmation page whose form carries ``confirm=yes`` (submitted here).
    """
    asked: list[str] = []

    def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    with page.expect_navigation():
        button.click()
    confirm = page.locator("form:has(input[name=confirm][value=yes]) [type=submit]")
    if asked or not confirm.count():
        return "dialog"
    with page.expect_navigation():
        confirm.first.click()
    return "page"
