"""Regenerate docs/console/*.png: run the browser page tests on asyncio, copy the best shots.

Usage: ``python tests/browser/make_screenshots.py`` (or ``nox -s screenshots``) from the repo
root, with Debian's chromium installed. Extra arguments go to pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Screenshot as the browser tests name it -> file under docs/console/.
CHOSEN = {
    "asyncio-open/overview.png": "overview.png",
    "asyncio-open/runs.png": "runs.png",
    "asyncio-open/run-failed.png": "run.png",
    "asyncio-open/triggers.png": "triggers.png",
    "asyncio-open/plugins.png": "plugins.png",
    "asyncio-token/login.png": "login.png",
}
TESTS = [
    "tests/browser/test_browser_pages.py::test_every_page_renders_cleanly",
    "tests/browser/test_browser_login.py::test_login_flow",
]


def main(argv: list[str]) -> int:
    """Run the tests into a scratch folder, then copy :data:`CHOSEN` into docs/console/."""
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, STARGRAPH_SCREENSHOTS=scratch, STARGRAPH_REQUIRE_BROWSER="1")
        env.update(STARGRAPH_TEST_BACKENDS="asyncio")
        pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *TESTS, *argv]
        status = subprocess.run(pytest, cwd=REPO, env=env, check=False).returncode
        if status:
            return status
        target = REPO / "docs" / "console"
        target.mkdir(exist_ok=True)
        for source, name in CHOSEN.items():
            (target / name).write_bytes((Path(scratch) / source).read_bytes())
            print(f"docs/console/{name} <- {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
