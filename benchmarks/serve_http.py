"""HTTP API throughput of ``stargraph serve`` on asyncio and trio.

Starts the real server as a subprocess (SQLite store in a temporary folder) and measures, with
one keep-alive httpx client on the same machine:

- ``GET /healthz`` (the baseline: Quart + Hypercorn, no store),
- ``POST /v1/runs`` (a durable enqueue: the group-commit writer, one fsync per batch),
- ``GET /v1/runs/{id}`` (one store read),
- ``GET /healthz`` and ``POST /v1/runs`` from 32 concurrent async clients (group commit: many
  enqueues per transaction; the async client itself is the limit here, hence its own baseline).

Prints the median requests/second of several rounds and the ratio to the baseline.

    .venv/bin/python benchmarks/serve_http.py [--requests 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx

GRAPHS = "def noop(params, ctx):\n    return None\n"
CONFIG = """
[store]
url = "sqlite:///bench.db"
[serve]
graceful_timeout = 1
[graphs.noop]
target = "bench_graphs:noop"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(folder: Path, backend: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    exe = Path(sys.executable).with_name("stargraph")
    proc = subprocess.Popen(
        [
            str(exe),
            "serve",
            "--config",
            str(folder / "stargraph.toml"),
            "--backend",
            backend,
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=folder,
        env={**os.environ, "STARGRAPH_API_TOKEN": ""},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server on {backend} did not become ready")


def _rate(n: int, call: Callable[[int], httpx.Response]) -> float:
    start = time.perf_counter()
    for i in range(n):
        call(i).raise_for_status()
    return n / (time.perf_counter() - start)


async def _concurrent(url: str, n: int, post: bool, clients: int = 32) -> float:
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker(count: int) -> None:
            for i in range(count):
                body = {"graph_id": "noop", "params": {"i": i}}
                r = await (client.post("/v1/runs", json=body) if post else client.get("/healthz"))
                r.raise_for_status()

        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(clients):
                tg.start_soon(worker, n // clients)
        return (n // clients * clients) / (time.perf_counter() - start)


def _measure(url: str, n: int, rounds: int) -> dict[str, float]:
    results: dict[str, list[float]] = {
        "healthz": [],
        "post_run": [],
        "get_run": [],
        "healthz_c32": [],
        "post_run_c32": [],
    }
    with httpx.Client(base_url=url) as client:
        run_id = client.post("/v1/runs", json={"graph_id": "noop"}).json()["run_id"]
        for _ in range(rounds):
            results["healthz"].append(_rate(n, lambda i: client.get("/healthz")))
            results["post_run"].append(
                _rate(
                    n,
                    lambda i: client.post(
                        "/v1/runs", json={"graph_id": "noop", "params": {"i": i}}
                    ),
                )
            )
            results["get_run"].append(_rate(n, lambda i: client.get(f"/v1/runs/{run_id}")))
            results["healthz_c32"].append(anyio.run(_concurrent, url, n, False))
            results["post_run_c32"].append(anyio.run(_concurrent, url, n, True))
    return {name: statistics.median(values) for name, values in results.items()}


@contextmanager
def running_server(backend: str) -> Iterator[str]:
    """``stargraph serve`` on *backend* in a temporary folder (SQLite store); yields its URL."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "bench_graphs.py").write_text(GRAPHS)
        (folder / "stargraph.toml").write_text(CONFIG)
        proc, url = _start(folder, backend)
        try:
            yield url
        finally:
            proc.terminate()
            proc.wait(30)


def sequential(url: str, n: int, rounds: int) -> dict[str, list[float]]:
    """Rates of *rounds* sequential rounds (one keep-alive client): healthz, then POST /v1/runs."""
    results: dict[str, list[float]] = {"healthz": [], "post_run": []}
    with httpx.Client(base_url=url) as client:
        for _ in range(rounds):
            results["healthz"].append(_rate(n, lambda i: client.get("/healthz")))
            results["post_run"].append(
                _rate(
                    n,
                    lambda i: client.post(
                        "/v1/runs", json={"graph_id": "noop", "params": {"i": i}}
                    ),
                )
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for backend in ("asyncio", "trio"):
        with running_server(backend) as url:
            medians = _measure(url, args.requests, args.rounds)
        for name, value in medians.items():
            base = medians["healthz_c32" if name.endswith("_c32") else "healthz"]
            ratio = f"{value / base:.2f}x {'healthz_c32' if name.endswith('_c32') else 'healthz'}"
            print(f"{backend:8} {name:12} {value:8.0f} req/s  ({ratio})")


if __name__ == "__main__":
    main()
