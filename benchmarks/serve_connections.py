"""2,000 concurrent connections against ``stargraph serve`` and ``hypercorn ... -k``, both backends.

Starts the real server as a subprocess (SQLite store in a temporary folder), then opens N raw TCP
connections at once from one asyncio client process, each sending one ``GET /healthz`` and
reading the whole response. Prints, per server and backend, how many were answered within the
deadline and the time until the last answer (median of several rounds).

    .venv/bin/python benchmarks/serve_connections.py [--connections 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CONFIG = '[store]\nurl = "sqlite:///bench.db"\n[serve]\ngraceful_timeout = 1\n'
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _argv(server: str, backend: str, folder: Path, port: int) -> list[str]:
    bin_dir = Path(sys.executable).parent
    if server == "serve":
        config = folder / "stargraph.toml"
        return [str(bin_dir / "stargraph"), "serve", "--config", str(config), "--backend",
                backend, "--bind", f"127.0.0.1:{port}"]  # fmt: skip
    return [str(bin_dir / "hypercorn"), "stargraph.serve.asgi:app", "-k", backend,
            "--bind", f"127.0.0.1:{port}"]  # fmt: skip


def _start(server: str, backend: str, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "STARGRAPH_CONFIG": str(folder / "stargraph.toml")}
    proc = subprocess.Popen(
        _argv(server, backend, folder, port),
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{server}/{backend} did not start")


async def _one(port: int) -> float | None:
    """Connect, send one request, read the whole response; return the finish time."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    try:
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        return time.monotonic()
    except (OSError, asyncio.IncompleteReadError, IndexError):
        return None
    finally:
        writer.close()


async def storm(port: int, connections: int, deadline: float) -> tuple[int, float]:
    """Return (answered within *deadline* s, seconds until the last answer)."""
    start = time.monotonic()
    tasks = [asyncio.ensure_future(_one(port)) for _ in range(connections)]
    done, pending = await asyncio.wait(tasks, timeout=deadline)
    for task in pending:
        task.cancel()
    finished = [t.result() for t in done if t.result() is not None]
    return len(finished), (max(finished) - start) if finished else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=30.0)
    args = parser.parse_args()
    for server in ("serve", "hypercorn"):
        for backend in ("asyncio", "trio"):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                (folder / "stargraph.toml").write_text(CONFIG)
                proc, port = _start(server, backend, folder)
                try:
                    rounds = [
                        asyncio.run(storm(port, args.connections, args.deadline))
                        for _ in range(args.rounds)
                    ]
                finally:
                    proc.terminate()
                    proc.wait(30)
            answered = min(r[0] for r in rounds)
            last = statistics.median(r[1] for r in rounds)
            print(f"{server:9} {backend:7} answered (worst round) {answered}/{args.connections}"
                  f"  last answer after (median) {last:.2f} s  rounds={rounds}")  # fmt: skip


if __name__ == "__main__":
    main()
