"""Real ``stargraph serve`` processes sharing one PostgreSQL database (multi-node tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
SECRET = "multinode-test-secret"

GRAPHS = """
import os
import time

import anyio


async def echo(params, ctx):
    start = time.time()
    await anyio.sleep(params.get("sleep", 0))
    return {"pid": os.getpid(), "start": start, "end": time.time(), "attempt": ctx.attempt}
"""

CONFIG = """
[scheduler]
max_concurrent_runs = 4
lease_seconds = 3
poll_interval = 1.0

[graphs.echo]
target = "graphs:echo"

[graphs.limited]
target = "graphs:echo"
concurrency = 2

[graphs.slow]
target = "graphs:echo"
max_attempts = 3

[graphs.tick]
target = "graphs:echo"

[graphs.hook]
target = "graphs:echo"

[graphs.itick]
target = "graphs:echo"

[graphs.overlapped]
target = "graphs:echo"

[[cron]]
trigger_id = "cron:tick"
schedule = "* * * * * *"
graph_id = "tick"
missed_fire_policy = "fire_all"
catchup_window = 60

[[interval]]
trigger_id = "interval:tick"
every = "1s"
graph_id = "itick"
missed_fire_policy = "fire_all"
catchup_window = 60

[[interval]]
trigger_id = "interval:skip"
every = "1s"
graph_id = "overlapped"
params = { sleep = 1.5 }
overlap = "skip"

[[webhook]]
trigger_id = "webhook:hook"
path = "/v1/webhooks/hook"
graph_id = "hook"
scheme = "stargraph"
secret_env = "SG_HOOK_SECRET"
"""


def write_config(folder: Path) -> Path:
    """Write the graphs module and the config every node shares; return the config path."""
    (folder / "graphs.py").write_text(GRAPHS)
    config = folder / "stargraph.toml"
    config.write_text(CONFIG)
    return config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Node:
    """One ``stargraph serve`` process; its output goes to a log file in the test folder."""

    def __init__(self, config: Path, store_url: str, backend: str, name: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = config.parent / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STARGRAPH_")}
        env["SG_HOOK_SECRET"] = SECRET
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                [str(BIN / "stargraph"), "serve", "--config", str(config), "--store", store_url,
                 "--bind", f"127.0.0.1:{self.port}", "--backend", backend,
                 "--log-level", "warning"],
                cwd=config.parent, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"node exited {self.popen.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"node not ready after {timeout} s:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lease release."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
