"""kill -9 of ``stargraph serve`` during a burst of files, then a restart: every file content
gets exactly one run (files already there at restart are handled by ``initial = "fire"``)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_procs import BIN, free_port

pytestmark = pytest.mark.slow

FILES = 400

CONFIG = """\
[store]
url = "sqlite:///{db}"

[serve]
bind = "127.0.0.1:{port}"
backend = "{backend}"

[graphs.ingest]
target = "graphs:ingest"

[[fs]]
trigger_id = "fs:inbox"
path = "{inbox}"
pattern = "*.csv"
graph_id = "ingest"
settle = "50ms"
on = ["added", "modified"]
initial = "fire"
"""


def counts(db: Path) -> tuple[int, int, int]:
    """(runs, distinct keys, distinct paths) of the fs trigger."""
    with sqlite3.connect(db, timeout=10) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT idempotency_key), "
            "count(DISTINCT json_extract(params, '$.path')) FROM runs "
            "WHERE trigger_source = 'fs' AND trigger_id = 'fs:inbox'"
        ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def wait_for(db: Path, n: int, timeout: float = 60) -> tuple[int, int, int]:
    deadline = time.monotonic() + timeout
    found = (0, 0, 0)
    while time.monotonic() < deadline:
        if db.exists():
            found = counts(db)
            if found[0] >= n:
                return found
        time.sleep(0.1)
    return found


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_kill_9_during_a_burst_then_restart(tmp_path: Path, spawn: Any, backend: str) -> None:
    inbox, db, port = tmp_path / "inbox", tmp_path / "sg.db", free_port()
    inbox.mkdir()
    (tmp_path / "graphs.py").write_text("def ingest(params, ctx):\n    return params['path']\n")
    config = tmp_path / "stargraph.toml"
    config.write_text(CONFIG.format(db=db, port=port, backend=backend, inbox=inbox))
    argv = [str(BIN / "stargraph"), "serve", "--config", str(config)]
    first = spawn(argv)
    first.wait_ready(f"http://127.0.0.1:{port}")
    for n in range(FILES):
        (inbox / f"f{n:04}.csv").write_text(f"row {n}\n")
        if n == FILES // 2:
            wait_for(db, 1, timeout=20)  # some are durable, the rest of the burst is in flight
            first.popen.kill()  # SIGKILL: no shutdown, no drain
    first.popen.wait(10)
    before = counts(db)
    assert 0 < before[0] < FILES, before
    second = spawn(argv)
    second.wait_ready(f"http://127.0.0.1:{port}")
    wait_for(db, FILES)
    listed = httpx.get(f"http://127.0.0.1:{port}/v1/triggers", timeout=10).json()["items"]
    [fs] = [t for t in listed if t["trigger_id"] == "fs:inbox"]
    assert (fs["kind"], fs["state"], fs["error"]) == ("fs", "running", None)
    time.sleep(0.5)  # anything extra would show up now
    assert counts(db) == (FILES, FILES, FILES), second.output()
    assert second.terminate() == 0
