"""The tours of README.md and examples/quickstart/README.md, executed as written (issue 15, #4).

The fenced blocks marked ``<!-- tour: server -->`` run as a background process (terminal 1),
the ``<!-- tour: client -->`` blocks in order as one bash script (terminal 2), in a folder
holding a fresh copy of ``examples/quickstart``, on SQLite. The one change: the port 8080 is
replaced by a free one (in the blocks and the copied config), so tests can run in parallel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from serve_procs import BIN, free_port

REPO = Path(__file__).parents[2]
_UNSET = "unset STARGRAPH_CONFIG STARGRAPH_URL STARGRAPH_STORE STARGRAPH_BIND STARGRAPH_API_TOKEN\n"
_BLOCK = re.compile(r"<!-- tour: (server|client) -->\n```sh\n(.*?)```", re.S)


def blocks(doc: Path) -> tuple[str, str]:
    """``(server script, client script)`` of *doc*."""
    found = _BLOCK.findall(doc.read_text())
    server = [text for kind, text in found if kind == "server"]
    client = [text for kind, text in found if kind == "client"]
    assert len(server) == 1 and client, f"{doc}: expected one server block and client blocks"
    return server[0], "set -euo pipefail\n" + "\n".join(client)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("doc", "backend"),
    [
        ("examples/quickstart/README.md", "asyncio"),
        ("examples/quickstart/README.md", "trio"),
        ("README.md", "asyncio"),
    ],
)
def test_tour_runs_as_written(doc: str, backend: str, spawn: Any, tmp_path: Path) -> None:
    port = str(free_port())
    folder = tmp_path / "examples" / "quickstart"
    shutil.copytree(
        REPO / "examples" / "quickstart", folder, ignore=shutil.ignore_patterns("*.db*")
    )
    toml = folder / "stargraph.toml"
    text = (
        toml.read_text()
        .replace("8080", port)
        .replace("graceful_timeout = 5", "graceful_timeout = 2")
    )
    toml.write_text(text.replace('backend = "asyncio"', f'backend = "{backend}"'))
    server_sh, client_sh = (b.replace("8080", port) for b in blocks(REPO / doc))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STARGRAPH_", "QUICKSTART_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    lines = server_sh.strip().splitlines()
    lines[-1] = "exec " + lines[-1]  # SIGTERM reaches the server, as Ctrl-C would
    server = spawn(["bash", "-c", _UNSET + "\n".join(lines)], env=env, cwd=tmp_path)
    server.wait_ready(f"http://127.0.0.1:{port}")
    done = subprocess.run(
        ["bash", "-c", _UNSET + client_sh], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{server.output()}"
    out = done.stdout
    assert "greeting" in out and "succeeded" in out  # run hello --wait printed its result
    assert "webhook:demo" in out and "cron:tick" in out  # triggers list
    if "hooks/demo" in client_sh:
        codes = re.findall(r"^(\{.*\}) (\d{3})$", out, re.M)
        assert [c for _, c in codes] == ["202", "409"], out
        assert "duplicate_nonce" in codes[1][0]
    assert server.terminate() == 0, server.output()
