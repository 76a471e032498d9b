"""A second *process* (`stargraph serve`) sharing the SQLite file refuses a replay."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from .conftest import GRAPH_ID, webhook_stack
from .test_e2e import signed, spec

CONFIG = f"""
[store]
url = "sqlite:///{{db}}"
[serve]
graceful_timeout = 1
[graphs.{GRAPH_ID}]
target = "proc_graphs:noop"
[[webhook]]
trigger_id = "webhook:standard-webhooks"
path = "/hooks/standard-webhooks"
graph_id = "{GRAPH_ID}"
scheme = "standard-webhooks"
secret_env = "PROC_WEBHOOK_SECRET"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`stargraph serve` in a subprocess on a SQLite file; yields (base URL, store URL)."""
    db = tmp_path / "shared.db"
    (tmp_path / "proc_graphs.py").write_text("def noop(params, ctx):\n    return None\n")
    (tmp_path / "stargraph.toml").write_text(CONFIG.format(db=db))
    port = _free_port()
    env = {**os.environ, "PROC_WEBHOOK_SECRET": spec("standard-webhooks").secrets[0]}
    exe = Path(sys.executable).with_name("stargraph")
    proc = subprocess.Popen(
        [
            str(exe),
            "serve",
            "--config",
            str(tmp_path / "stargraph.toml"),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=tmp_path,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        yield url, f"sqlite:///{db}"
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.slow
async def test_replay_refused_by_a_second_process(served: tuple[str, str]) -> None:
    url, store_url = served
    body = b'{"process": 2}'
    headers = signed("standard-webhooks", body)
    async with webhook_stack(store_url, [spec("standard-webhooks")]) as here:
        with anyio.fail_after(20):
            r1 = await here.post("/hooks/standard-webhooks", body, headers)
            assert r1.status_code == 202, r1.text
            async with httpx.AsyncClient() as client:
                r = await client.post(
                    f"{url}/hooks/standard-webhooks", content=body, headers=headers
                )
                assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_nonce"
                again = signed(
                    "standard-webhooks",
                    body,
                    msg_id=headers["webhook-id"],
                    timestamp=int(headers["webhook-timestamp"]) + 1,
                )
                r = await client.post(f"{url}/hooks/standard-webhooks", content=body, headers=again)
                assert r.status_code == 202 and r.json() == {**r1.json(), "deduplicated": True}
            assert await here.run_count() == 1
