"""Verified, durable webhook deliveries against a bare Quart route, on asyncio and trio.

One server process per backend (Hypercorn + Quart or QuartTrio) serves two routes:

- ``POST /bare``: a plain Quart route that only answers 202 (the baseline);
- ``POST /hook``: the webhook trigger's route (stargraph scheme): size check, header parsing,
  timestamp window, HMAC-SHA256 verification, JSON params, durable enqueue with the replay
  nonce in the same transaction (group commit into ``runs`` and ``webhook_nonces``), then 202.

Load comes from ``wrk`` (32 connections, one thread) on the same machine, alternating bare and
webhook rounds in the same run. Replay protection makes a repeated request a 409, so every
webhook request must be distinct and freshly signed: before each round the script signs N
unique bodies (``{"n": i, "round": r}``) with the current timestamp and writes them to a file
that the Lua script reads in ``init``; each request is sent exactly once (a request sent twice
would be a 409, which wrk reports as non-2xx and the script refuses). At the end, the number of
runs in the store must equal the number of 202 answers: every 202 is a new durable run. The
scheduler runs normally (the noop graph executes), as in production.

    .venv/bin/python benchmarks/webhook_throughput.py [--duration 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import httpx

SECRET = "bench-secret-value"
LUA = r"""
local lines, counter, step = {}, 0, 1
local path = os.getenv("WEBHOOK_REQS")
local nthreads, made = %d, 0
SCHEME = os.getenv("WEBHOOK_SCHEME") or "stargraph"
function setup(thread) thread:set("tid", made); made = made + 1 end
function init(args)
  for line in io.lines(path) do
    local ts, sig, body = line:match("^(%%S+) (%%x+) (.*)$")
    local headers = {["Content-Type"] = "application/json"}
    if SCHEME == "github" then
      headers["X-GitHub-Delivery"] = ts
      headers["X-Hub-Signature-256"] = "sha256=" .. sig
    else
      headers["X-Stargraph-Timestamp"] = ts
      headers["X-Stargraph-Signature"] = sig
    end
    lines[#lines + 1] = wrk.format("POST", "/hook", headers, body)
  end
  counter, step = tid + 1, nthreads
end
function request()
  local r = lines[counter]
  counter = counter + step
  if r == nil then return wrk.format("POST", "/exhausted") end
  return r
end
"""


# -- the server (run in a subprocess) ----------------------------------------------------------


async def _noop(params: dict[str, object], ctx: object) -> None:
    return None


async def _hold(params: dict[str, object], ctx: object) -> None:
    import anyio

    await anyio.sleep_forever()


async def _serve(backend: str, port: int, db: str, scheme: str, mode: str) -> None:
    import anyio
    from hypercorn.config import Config
    from quart import Quart, Response
    from quart_trio import QuartTrio

    from stargraph.scheduler import Graph, Scheduler, SchedulerSettings
    from stargraph.store import open_store
    from stargraph.triggers.webhook import WebhookSpec, WebhookTrigger

    if backend == "trio":
        from hypercorn.trio import serve
    else:
        from hypercorn.asyncio import serve
    store = open_store(f"sqlite:///{db}{os.environ.get('BENCH_STORE_QUERY', '')}")
    await store.open()
    spec = WebhookSpec(
        trigger_id="webhook:bench", path="/hook", graph_id="noop", scheme=scheme, secrets=(SECRET,)
    )
    if mode == "intake":  # one execution slot, held forever by the first run: intake only
        graph = Graph(graph_id="noop", fn=_hold)
        settings = SchedulerSettings(max_concurrent_runs=1, shutdown_grace=0.5)
    else:
        graph, settings = Graph(graph_id="noop", fn=_noop), SchedulerSettings()
    async with (
        Scheduler(store, [graph], settings=settings) as scheduler,
        anyio.create_task_group() as tg,
    ):
        trigger = WebhookTrigger()
        trigger.init(
            {
                "scheduler": scheduler,
                "store": store,
                "webhook_specs": [spec],
                "task_group": tg,
                "metrics": scheduler.metrics,
            }
        )
        await trigger.start()
        app = (QuartTrio if backend == "trio" else Quart)("bench")
        for bp in trigger.routes():
            app.register_blueprint(bp)

        @app.post("/bare")
        async def bare() -> Response:
            return Response('{"ok":true}', status=202, mimetype="application/json")

        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        config.accesslog = None
        config.errorlog = None
        stop = anyio.Event()

        async def on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    stop.set()
                    return

        async with anyio.create_task_group() as server:
            server.start_soon(on_signal)
            server.start_soon(partial(serve, app, config, shutdown_trigger=stop.wait))
        tg.cancel_scope.cancel()


# -- the driver ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(backend: str, db: Path, scheme: str, mode: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", backend, str(port), str(db), scheme, mode]
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"{url}/bare", timeout=1).status_code == 202:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server on {backend} did not start")


def _write_requests(path: Path, count: int, round_no: int, scheme: str) -> None:
    from stargraph.triggers.webhook import sign

    ts = int(time.time())
    with path.open("w") as out:
        for n in range(count):
            body = json.dumps({"n": n, "round": round_no}, separators=(",", ":"))
            if scheme == "github":
                h = sign("github", SECRET, body, msg_id=f"d-{round_no}-{n}")
                out.write(f"{h['X-GitHub-Delivery']} {h['X-Hub-Signature-256'][7:]} {body}\n")
            else:
                sig = sign("stargraph", SECRET, body, timestamp=ts)["X-Stargraph-Signature"]
                out.write(f"{ts} {sig} {body}\n")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the server process used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(
    proc: subprocess.Popen[bytes],
    url: str,
    path: str,
    script: Path | None,
    duration: int,
    env: dict[str, str],
) -> dict[str, float]:
    cmd = ["wrk", "-t1", "-c32", f"-d{duration}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(url + path)
    cpu = _cpu_seconds(proc.pid)
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, env={**os.environ, **env}
    ).stdout
    cpu = _cpu_seconds(proc.pid) - cpu
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
        "cpu_ms": cpu * 1000 / max(1, int(re.search(r"(\d+) requests in", out).group(1))),  # type: ignore[union-attr]
    }


def _bench(
    backend: str, duration: int, rounds: int, per_round: int, scheme: str, mode: str
) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "bench.db"
        script = folder / "hook.lua"
        script.write_text(LUA % 1)
        reqs = folder / "reqs.txt"
        proc, url = _start(backend, db, scheme, mode)
        bare: list[dict[str, float]] = []
        hook: list[dict[str, float]] = []
        try:
            for r in range(rounds):
                bare.append(_wrk(proc, url, "/bare", None, duration, {}))
                _write_requests(reqs, per_round, r, scheme)
                hook.append(
                    _wrk(
                        proc,
                        url,
                        "/hook",
                        script,
                        duration,
                        {"WEBHOOK_REQS": str(reqs), "WEBHOOK_SCHEME": scheme},
                    )
                )
                if hook[-1]["non2xx"] or hook[-1]["socket_errors"]:
                    raise SystemExit(
                        f"{backend}: webhook round {r} had non-2xx answers or "
                        f"socket errors: {hook[-1]}"
                    )
                if hook[-1]["requests"] >= per_round:
                    raise SystemExit(f"{backend}: raise --per-round, the requests ran out")
        finally:
            proc.terminate()
            proc.wait(30)
        with sqlite3.connect(db) as conn:
            runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        sent = sum(h["requests"] for h in hook)
        # wrk counts answered requests; up to 32 per round were still in flight when it stopped
        # (sent, committed, answer not counted): those are runs too.
        if not sent <= runs <= sent + 32 * rounds:
            raise SystemExit(f"{backend}: {sent:.0f} webhook 202s but {runs} runs in the store")
    return {"bare": _median(bare), "hook": _median(hook), "runs": {"count": float(runs)}}


def _median(results: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=60_000)
    parser.add_argument("--backends", default="asyncio,trio")
    parser.add_argument("--scheme", default="stargraph", choices=["stargraph", "github"])
    parser.add_argument(
        "--modes",
        default="intake,execute",
        help="intake: runs are only committed (execution excluded); execute: "
        "the noop graph also runs, in the same process",
    )
    args = parser.parse_args()
    for mode in args.modes.split(","):
        for backend in args.backends.split(","):
            _report(
                backend,
                mode,
                _bench(backend, args.duration, args.rounds, args.per_round, args.scheme, mode),
            )


def _report(backend: str, mode: str, res: dict[str, dict[str, float]]) -> None:
    b, h = res["bare"], res["hook"]
    print(
        f"{mode:7} {backend:8} bare    {b['rps']:8.0f} req/s  p50 {b['p50']:6.2f} ms  "
        f"p99 {b['p99']:6.2f} ms  server CPU {b['cpu_ms']:.3f} ms/req"
    )
    print(
        f"{mode:7} {backend:8} webhook {h['rps']:8.0f} req/s  p50 {h['p50']:6.2f} ms  "
        f"p99 {h['p99']:6.2f} ms  server CPU {h['cpu_ms']:.3f} ms/req  "
        f"({h['rps'] / b['rps']:.0%} of bare req/s, {b['cpu_ms'] / h['cpu_ms']:.0%} by CPU; "
        f"{res['runs']['count']:.0f} durable runs = every 202)",
        flush=True,
    )


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--serve":
        import anyio

        anyio.run(
            _serve,
            sys.argv[2],
            int(sys.argv[3]),
            sys.argv[4],
            sys.argv[5],
            sys.argv[6],
            backend=sys.argv[2],
        )
    else:
        main()
