"""The chaos campaign's parts: size and seed, a project on disk, server processes, a load.

Size: ``STARGRAPH_CHAOS=full`` (``nox -s chaos``) or ``ci`` (the default, bounded for ``pytest
-q``). Seed: ``STARGRAPH_CHAOS_SEED`` replays a failure; every scenario prints the seed it used.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

import anyio
import attrs
import httpx

from stargraph.store import open_store
from stargraph.store.base import Run, RunFilter

BIN = Path(sys.executable).parent
READY_DEADLINE = 60.0  # seconds a node may take to answer /readyz 200, even on a loaded box
DRAIN_DEADLINE = 120.0  # seconds the last node may take to finish every run after the load


@attrs.frozen
class Size:
    """How much chaos: ``ci`` keeps the whole campaign within about three minutes."""

    name: str
    kill_rounds: int
    pg_kill_rounds: int
    outage_seconds: float
    pg_terminations: int
    storm_connections: int
    big_bodies_mb: tuple[int, ...]
    slowloris_sockets: int
    plugin_seconds: float
    slowloris_seconds: float
    timeout: float  # pytest-timeout per test: a campaign runs inside its first test's setup


SIZES = {
    "ci": Size("ci", 2, 2, 3.0, 5, 500, (10,), 50, 4.0, 3.0, 600.0),
    "full": Size("full", 20, 20, 10.0, 40, 2000, (10, 100), 400, 20.0, 10.0, 3600.0),
}


def size() -> Size:
    """The size named by ``STARGRAPH_CHAOS`` (``ci`` unless set)."""
    name = os.environ.get("STARGRAPH_CHAOS", "ci")
    if name not in SIZES:
        raise ValueError(f"STARGRAPH_CHAOS={name!r}: expected one of {sorted(SIZES)}")
    return SIZES[name]


_GIVEN = os.environ.get("STARGRAPH_CHAOS_SEED")
# pytest-xdist workers share one run id: the same seed (and ci backend) in every worker process
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID")
SEED = (
    int(_GIVEN) if _GIVEN
    else int(_RUN, 16) % 1_000_000_000 if _RUN
    else random.SystemRandom().randrange(1_000_000_000)
)  # fmt: skip


def seeded(scenario: str) -> tuple[int, random.Random]:
    """The session's seed (``STARGRAPH_CHAOS_SEED`` or fresh) and *scenario*'s own generator.

    Prints the line that replays it. One seed per session, so every scenario of a failing run
    replays with the same value.
    """
    print(
        f"chaos {scenario}: replay with STARGRAPH_CHAOS_SEED={SEED} STARGRAPH_CHAOS={size().name}"
    )
    return SEED, random.Random(f"{SEED}-{scenario}")


def report(scenario: str, **figures: object) -> None:
    """Append one scenario's figures as a JSON line to ``$STARGRAPH_CHAOS_REPORT`` (if set)."""
    path = os.environ.get("STARGRAPH_CHAOS_REPORT")
    if path:
        line = {"scenario": scenario, "seed": SEED, "size": size().name, **figures}
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line, default=str) + "\n")


def ci_backend() -> str:
    """The one backend a ``ci``-size run gives the store campaigns (alternates by seed).

    Chosen among the backends this session tests (``STARGRAPH_TEST_BACKENDS``, as in
    tests/conftest.py), so a session narrowed to one backend still runs every campaign.
    """
    env = os.environ.get("STARGRAPH_TEST_BACKENDS", "asyncio,trio")
    backends = [b for b in env.split(",") if b] or ["asyncio"]
    return backends[SEED % len(backends)]


def one_backend_in_ci(backend: str, campaign: str) -> None:
    """Skip *campaign* on the other backend at ``ci`` size (``full`` runs both).

    The kill and outage campaigns test the store and the scheduler, which both backends share;
    the HTTP-level campaigns (clients, plugins) run on both backends at every size.
    """
    import pytest

    if size().name == "ci" and backend != ci_backend():
        pytest.skip(
            f"ci size: the {campaign} campaign runs on {ci_backend()} this time (chosen by "
            "STARGRAPH_CHAOS_SEED); STARGRAPH_CHAOS=full (nox -s chaos) runs both backends"
        )


@attrs.frozen
class TimeTrigger:
    """A time-based trigger of the project: one planned fire every ``period`` seconds."""

    trigger_id: str
    period: float
    table: str


# Every time-based trigger the kill campaigns check "one run per planned fire" for. A new
# kind (an ``[[interval]]`` table, say) is one more line here.
TIME_TRIGGERS: tuple[TimeTrigger, ...] = (
    TimeTrigger(
        "cron:tick",
        1.0,
        '[[cron]]\ntrigger_id = "cron:tick"\nschedule = "* * * * * *"\ngraph_id = "tick"\n'
        'missed_fire_policy = "fire_all"\ncatchup_window = 3600\n',
    ),
    TimeTrigger(
        "interval:tick",
        1.0,
        '[[interval]]\ntrigger_id = "interval:tick"\nevery = "1s"\ngraph_id = "tick"\n'
        'missed_fire_policy = "fire_all"\ncatchup_window = 3600\n',
    ),
)

GRAPHS = """
import anyio


async def work(params, ctx):
    await anyio.sleep(params.get("sleep", 0.05))
    return {"i": params.get("i")}
"""

CONFIG = """
[serve]
graceful_timeout = 2

[scheduler]
max_concurrent_runs = 16
lease_seconds = 2
poll_interval = 0.2

[graphs.work]
target = "chaos_graphs:work"

[graphs.tick]
target = "chaos_graphs:work"
"""


def write_project(folder: Path, *, triggers: Sequence[TimeTrigger] = TIME_TRIGGERS) -> Path:
    """Write the graphs module and the config (with *triggers*); return the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chaos_graphs.py").write_text(GRAPHS)
    config = folder / "stargraph.toml"
    config.write_text(CONFIG + "".join("\n" + t.table for t in triggers))
    return config


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Node:
    """One ``stargraph serve`` process on its own port; output goes to a log file."""

    def __init__(self, config: Path, store_url: str, backend: str, name: str) -> None:
        self.config, self.store_url, self.backend, self.name = config, store_url, backend, name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = config.parent / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, *, wait: bool = True) -> None:
        """Start the process (again, after a kill) and wait until it is ready."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STARGRAPH_")}
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts} ---\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                [str(BIN / "stargraph"), "serve", "--config", str(self.config),
                 "--store", self.store_url, "--bind", f"127.0.0.1:{self.port}",
                 "--backend", self.backend, "--log-level", "warning"],
                cwd=self.config.parent, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.starts += 1
        if wait:
            self.wait_ready()

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_ready(self) -> None:
        assert self.popen is not None
        deadline = time.monotonic() + READY_DEADLINE
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited {self.popen.returncode}:\n{self.output()}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready after {READY_DEADLINE} s:\n{self.output()}")

    def kill9(self) -> None:
        """SIGKILL: no shutdown, no lease release, no flush."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(30)

    def signal_stop(self) -> None:
        """Send SIGTERM without waiting (stop several nodes at once, then :meth:`stop` each)."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 60 s)."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.signal_stop()
        try:
            self.popen.wait(60)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(30)
            raise AssertionError(
                f"{self.name} ignored SIGTERM for 60 s:\n{self.output()}"
            ) from None

    def rss_kib(self) -> int:
        """The process's resident set size (KiB), from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


@attrs.define
class Load:
    """A steady enqueue load through ``POST /v1/runs`` from a few threads.

    Every tenth request repeats an earlier key. ``acks`` maps each key that got a 202 to the
    run ids it was answered with; ``codes`` counts every answer (and ``conn_error``).
    """

    urls: list[str]
    seed: int
    threads: int = 4
    pause: float = 0.03
    acks: dict[str, set[str]] = attrs.field(factory=lambda: defaultdict(set))
    codes: Counter[str] = attrs.field(factory=Counter)
    bodies: dict[str, str] = attrs.field(factory=dict)  # one sample body per non-202 code
    retry_after: Counter[str] = attrs.field(factory=Counter)
    _stop: threading.Event = attrs.field(factory=threading.Event)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)
    _counter: Iterator[int] = attrs.field(factory=itertools.count)
    _workers: list[threading.Thread] = attrs.field(factory=list)

    def __enter__(self) -> Load:
        for i in range(self.threads):
            worker = threading.Thread(target=self._run, args=(i,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(30)

    def mark(self) -> int:
        """Requests sent so far (a position to compare answers before and after)."""
        return sum(self.codes.values())

    def _key(self) -> str:
        n = next(self._counter)
        return f"chaos-{self.seed}-{n - 7 if n % 10 == 9 else n}"

    def _run(self, index: int) -> None:
        rng = random.Random(self.seed * 31 + index)
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                key = self._key()
                url = rng.choice(self.urls)
                body = {"graph_id": "work", "params": {"k": key}, "idempotency_key": key}
                try:
                    resp = client.post(f"{url}/v1/runs", json=body)
                except httpx.HTTPError:
                    self._count("conn_error")
                    time.sleep(0.05)
                    continue
                self._record(key, resp)
                time.sleep(self.pause)

    def _count(self, code: str) -> None:
        with self._lock:
            self.codes[code] += 1

    def _record(self, key: str, resp: httpx.Response) -> None:
        code = str(resp.status_code)
        with self._lock:
            self.codes[code] += 1
            if resp.status_code == 202:
                self.acks[key].add(resp.json()["run_id"])
                return
            self.bodies.setdefault(code, resp.text[:300])
            if "retry-after" in resp.headers:
                self.retry_after[code] += 1


def read_runs(store_url: str) -> list[Run]:
    """Every run in the store, through the store API (both SQLite and PostgreSQL)."""

    async def main() -> list[Run]:
        store = open_store(store_url)
        await store.open()
        runs: list[Run] = []
        try:
            cursor: str | None = None
            while True:
                page = await store.list_runs(RunFilter(), limit=1000, cursor=cursor)
                runs += page.items
                cursor = page.next_cursor
                if cursor is None:
                    return runs
        finally:
            await store.close()

    return anyio.run(main)


def wait_drained(store_url: str, nodes: Sequence[Node]) -> list[Run]:
    """Poll the store until no run is pending or running; return every run."""
    deadline = time.monotonic() + DRAIN_DEADLINE
    while True:
        runs = read_runs(store_url)
        open_ = [r for r in runs if not r.finished]
        if not open_:
            return runs
        if time.monotonic() > deadline:
            logs = "\n".join(n.output()[-1500:] for n in nodes)
            raise AssertionError(f"{len(open_)} runs not terminal after the drain:\n{logs}")
        time.sleep(0.5)
