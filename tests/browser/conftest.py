"""tests/browser fixtures: Debian's Chromium, driven by Playwright, on a real ``stargraph serve``.

One server per (server backend, token or not) for the whole folder (see :func:`matrix`), one
Chromium per session; each test opens its own browser context. Without Chromium or Playwright
every test here skips, saying why.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from console_server import API_TOKEN, Console, seed, start
from page_watch import new_context, screenshot_dir

HERE = Path(__file__).parent
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
BACKENDS = [b for b in os.environ.get("STARGRAPH_TEST_BACKENDS", "asyncio,trio").split(",") if b]


def chromium_path() -> str | None:
    """``STARGRAPH_CHROMIUM``, else Debian's ``/usr/bin/chromium``, else one on PATH."""
    given = os.environ.get("STARGRAPH_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


# What the session fixtures hold open (Playwright, servers), closed by the fixtures' teardown or,
# earlier, once the last browser test has run (so no idle server or browser outlives them).
_OPEN: dict[str, Callable[[], object]] = {}


def _close(name: str) -> None:
    closer = _OPEN.pop(name, None)
    if closer is not None:
        closer()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After the last test of this folder, stop the servers and the browser.

    Needs every browser test on this process: under xdist the folder is one work unit
    (``xdist_group`` in tests/conftest.py), sent to one worker in collection order.
    """
    items = item.session.items
    later = items[items.index(nextitem) :] if nextitem in items else []
    if not any(Path(later_item.path).parent == HERE for later_item in later):
        for name in reversed(list(_OPEN)):
            _close(name)


def _unavailable(reason: str) -> None:
    """Skip, or fail where ``STARGRAPH_REQUIRE_BROWSER=1`` (.ci/run sets it once Chromium is in)."""
    if os.environ.get("STARGRAPH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"STARGRAPH_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium (Debian's, never a downloaded build); skips when there is none."""
    path = chromium_path()
    if path is None:
        _unavailable(
            "no Chromium: apt-get install -y chromium (.ci/run does) or set STARGRAPH_CHROMIUM"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install -e '.[test]'")
    pw = sync_playwright().start()
    _OPEN["browser"] = pw.stop
    chromium = pw.chromium.launch(executable_path=str(path), args=CHROMIUM_FLAGS, headless=True)
    yield chromium
    _close("browser")


def matrix() -> list[tuple[str, bool]]:
    """(server backend, with token): each backend and each token mode at least once.

    Both backends: asyncio without a token and trio with one (the console code is the same on
    both; what differs is the server under it). One backend: with and without a token.
    ``STARGRAPH_BROWSER_MATRIX=full`` runs every pair.
    """
    if os.environ.get("STARGRAPH_BROWSER_MATRIX") == "full" or len(BACKENDS) != 2:
        return [(b, t) for b in BACKENDS for t in (False, True)]
    return [(BACKENDS[0], False), (BACKENDS[1], True)]


@pytest.fixture(
    scope="session",
    params=matrix(),
    ids=lambda p: f"{p[0]}-{'token' if p[1] else 'open'}",
)
def console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> Iterator[Console]:
    """A seeded ``stargraph serve`` on a free loopback port (server backend x API token)."""
    backend, with_token = request.param
    token = API_TOKEN if with_token else None
    folder = tmp_path_factory.mktemp(f"console-{backend}-{'token' if token else 'open'}")
    proc, url = start(folder, backend, token)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    api = httpx.Client(base_url=url, headers=headers, timeout=10)
    _OPEN[url] = lambda: (api.close(), proc.close())
    try:
        runs = seed(api)
    except BaseException:
        _close(url)
        raise
    yield Console(url=url, backend=backend, token=token, api=api, runs=runs, folder=folder)
    _close(url)


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``$STARGRAPH_SCREENSHOTS`` or ``<basetemp>/screenshots``."""
    return screenshot_dir(tmp_path_factory.getbasetemp())


@pytest.fixture
def context(browser: Any, console: Console) -> Iterator[Any]:
    """A fresh browser context, logged in through the login form when the server has a token."""
    ctx = new_context(browser, console)
    yield ctx
    ctx.close()
