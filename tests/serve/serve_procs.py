"""Helpers for tests that run real server processes (``stargraph serve``, ``hypercorn``).

Imported by tests/serve and tests/examples (``spawn`` is re-exported as a fixture there).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Proc:
    """A child process with its stderr captured to a file."""

    def __init__(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> None:
        self.log = cwd / f"proc-{time.monotonic_ns()}.log"
        self._log_file = self.log.open("wb")
        self.popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env={**os.environ, **env},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def wait_ready(self, url: str, timeout: float = 30) -> None:
        """Poll ``/readyz`` until 200; fail with the process output otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                pytest.fail(f"server exited {self.popen.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"server not ready after {timeout} s:\n{self.output()}")

    def terminate(self, timeout: float = 30) -> int:
        """Send SIGTERM and return the exit status."""
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            pytest.fail(f"no exit {timeout} s after SIGTERM:\n{self.output()}")

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
        self._log_file.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Any]:
    """Start processes in *tmp_path*; any still running at teardown are killed."""
    procs: list[Proc] = []

    def start(
        argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Proc:
        proc = Proc(argv, cwd=cwd or tmp_path, env=env or {})
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.close()


def wait_run(
    client: httpx.Client, run_id: str, *statuses: str, timeout: float = 15
) -> dict[str, Any]:
    """Poll ``GET /v1/runs/{id}`` until the run is in one of *statuses*."""
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = client.get(f"/v1/runs/{run_id}").json()
        if run.get("status") in statuses:
            return run
        time.sleep(0.05)
    pytest.fail(f"run {run_id} not in {statuses} after {timeout} s: {run}")
