"""A plain ``pip install`` (no extras) into a fresh venv runs the CLI and the quickstart server.

The test environment always has the ``[test]`` extra, so only a separate venv catches a
runtime import of a test-only package. One wheel and one venv per session: the wheel is
built from a copy of the tree with the test venv's setuptools (no build isolation); pip
fetches the runtime dependencies from its cache or the index.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from stargraph import __version__

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).parents[2]
BACKENDS = [b for b in os.environ.get("STARGRAPH_TEST_BACKENDS", "asyncio,trio").split(",") if b]
_CLEAN_ENV = {
    k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
}


def _run(
    argv: list[str], *, timeout: float = 120, **kw: object
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def plain_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh venv holding the wheel installed without extras."""
    root = tmp_path_factory.mktemp("plain-install")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(
        REPO / "stargraph", src / "stargraph", ignore=shutil.ignore_patterns("__pycache__")
    )
    pip = [sys.executable, "-m", "pip"]
    _run(
        [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(root), str(src)],
        timeout=300,
    )
    (wheel,) = root.glob("stargraph-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    _run([*pip, "--python", str(venv / "bin" / "python"), "install", "-q", str(wheel)], timeout=600)
    return venv / "bin"


def _cli(plain_bin: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(plain_bin / "stargraph"), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=_CLEAN_ENV,
    )


def test_no_test_extras_in_the_plain_venv(plain_bin: Path) -> None:
    names = "('httpx', 'pytest', 'opentelemetry')"  # opentelemetry: the [otel] extra, absent here
    probe = f"import importlib.util as u; print([m for m in {names} if u.find_spec(m)])"
    done = _run([str(plain_bin / "python"), "-c", probe], env=_CLEAN_ENV)
    assert done.stdout.strip() == "[]"  # else this venv could not catch a test-only import


def test_version_and_cron_next(plain_bin: Path, tmp_path: Path) -> None:
    version = _cli(plain_bin, "--version", cwd=tmp_path)
    assert (version.returncode, version.stdout.strip()) == (0, f"stargraph {__version__}"), version
    nxt = _cli(plain_bin, "cron", "next", "@daily", "-n", "2", cwd=tmp_path)
    assert nxt.returncode == 0, nxt.stderr
    assert nxt.stdout.count("00:00:00") >= 2, nxt.stdout


def test_postgres_store_without_the_extra_says_what_to_install(
    plain_bin: Path, tmp_path: Path
) -> None:
    done = _cli(plain_bin, "runs", "list", "--store", "postgresql://127.0.0.1:1/x", cwd=tmp_path)
    assert done.returncode == 1
    assert "pip install 'stargraph[postgres]'" in done.stderr, done.stderr
    assert "--log-level debug" not in done.stderr and "Traceback" not in done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.mark.parametrize("backend", BACKENDS)
def test_quickstart_serve(plain_bin: Path, tmp_path: Path, backend: str) -> None:
    folder = tmp_path / "quickstart"
    shutil.copytree(
        REPO / "examples" / "quickstart",
        folder,
        ignore=shutil.ignore_patterns("*.db*", "__pycache__"),
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**_CLEAN_ENV, "QUICKSTART_WEBHOOK_SECRET": "plain-install-secret"}
    argv = [str(plain_bin / "stargraph"), "serve", "--config", str(folder / "stargraph.toml")]
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*argv, "--backend", backend, "--bind", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not _ready(url):
            assert server.poll() is None and time.monotonic() < deadline, (
                tmp_path / "serve.log"
            ).read_text()
            time.sleep(0.2)
        listed = _cli(plain_bin, "triggers", "list", "--url", url, "--json", cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert "cron:tick" in {t["trigger_id"] for t in json.loads(listed.stdout)["items"]}
        server.send_signal(signal.SIGINT)
        assert server.wait(30) == 0, (tmp_path / "serve.log").read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert "serve.stopped" in output and "Traceback" not in output, output
