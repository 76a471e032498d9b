"""Every benchmark script runs at a tiny size, so a schema or API change that breaks one fails here.

``benchmarks/*.py`` are run by hand, never in CI (benchmarks/README.md), so one can break
silently: schema version 4's ``trace_context`` column left the raw floor rows of cron_burst.py
one value short ("Incorrect number of bindings"), and pg_enqueue.py's raw rows had been short
since migration 2, until someone measured. Each case runs a script the way the README does
(``python benchmarks/<script>.py``: its own argument parsing, ``main`` and report) at the
smallest size its options allow, and checks that it exits 0 and printed its report. The figures
mean nothing at these sizes and are not checked. Two scripts keep their sizes in module
constants, so a short driver shrinks those and calls their ``main``: the gate (``nox -s bench``;
it reads a copy of ``baseline.json`` and never gets ``--record``) and trio_par.py.

The scripts mostly wait (a cron burst's planned second, a server's start, fsync), so they run
``PARALLEL`` at a time: the first test of this module starts every selected case, in the order
the tests will run, and each test waits for its own. A script that takes a backend runs once per
backend of the session (``anyio_backend``); one that runs both itself runs once. A case whose
needs are missing skips with the reason: the PostgreSQL server (``postgres`` marker,
``pg_admin_url``), a broker, ``wrk``, APScheduler (a comparison run from its own virtualenv).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from queues.brokers import BROKERS, reachable

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
PARALLEL = 6
TIMEOUT = 90.0  # seconds per script (the slowest took 15 s, six at a time at load 7)
#: Imported by the scripts, not run on their own.
HELPERS = {"cron_common.py", "enqueue_load.py", "pg_common.py"}

pytestmark = pytest.mark.timeout(2 * TIMEOUT)  # a test may wait for its case to start

Need = Callable[[], str | None]


def _module(name: str, why: str) -> Need:
    def check() -> str | None:
        return None if importlib.util.find_spec(name) else f"{name} is not installed: {why}"

    return check


def _program(name: str, why: str) -> Need:
    return lambda: None if shutil.which(name) else f"{name} is not on PATH: {why}"


def _kinds() -> list[str]:
    """The queue kinds whose local broker answers."""
    return [kind for kind in BROKERS if reachable(kind) is None]


def _a_broker() -> str | None:
    return None if _kinds() else "no local broker is reachable (.ci/run's ensure_brokers)"


@dataclass(frozen=True)
class Case:
    """One script at a tiny size.

    ``argv`` follows the interpreter; ``{backend}``, ``{tmp}`` (a folder of the case's own) and
    ``{kinds}`` (the reachable queue kinds) are filled in, also in ``expect`` (text the report
    prints at its end: the script got there) and ``refuse`` (text printed only on a failure
    the script catches itself).
    """

    script: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    needs: tuple[Need, ...] = ()
    refuse: tuple[str, ...] = ()

    def skip_reason(self) -> str | None:
        for need in self.needs:
            if reason := need():
                return reason
        return None


def _script(name: str, *args: str, expect: tuple[str, ...], needs: tuple[Need, ...] = ()) -> Case:
    return Case(name, (f"benchmarks/{name}", *args), expect, needs)


#: The gate's own ``main`` at tiny sizes: its figure sizes are module constants. A copy of
#: baseline.json is read (never written: no ``--record``); an infinite tolerance means no
#: figure looks worse, so none is measured a second time.
GATE = """\
import math, shutil, sys
from pathlib import Path
sys.path.insert(0, "benchmarks")
import gate
gate.ENQUEUE_RUNS, gate.BURN_RUNS, gate.CRON_FIRES, gate.HTTP_REQUESTS = 100, 40, 5, 10
shutil.copy(gate.BASELINE, sys.argv[1])
gate.BASELINE = Path(sys.argv[1])
gate.TOLERANCE = math.inf
sys.argv = ["gate.py", *sys.argv[2:]]
sys.exit(gate.main())
"""
#: trio_par.py's ``main`` at tiny sizes (module constants, read when a figure runs).
TRIO_PAR = """\
import sys
sys.path.insert(0, "benchmarks")
import trio_par as t
t.HOPS, t.SUBMITS, t.ENQUEUES, t.BURN, t.SAMPLES, t.HTTP = 50, 5, 100, 40, 3, 5
sys.argv = ["trio_par.py", *sys.argv[1:]]
t.main()
"""

#: Scripts run once per backend of the session.
BACKEND_CASES = {
    "console_page": _script(
        "console_page.py", "--runs", "300", "--repeat", "1", "--db", "{tmp}/console.db",
        "--backend", "{backend}", expect=("overview /ui/",),
    ),
    "cron_burst": _script(
        "cron_burst.py", "5", "1", "{backend}", expect=("floor: one raw transaction of 5 rows",)
    ),
    "cron_precision": _script(
        "cron_precision.py", "1", "1", "{backend}", expect=("ratio cron/baseline p99",)
    ),
    "gate": Case(
        "gate.py",
        ("-c", GATE, "{tmp}/baseline.json", "--repeat", "1", "--backend", "{backend}"),
        expect=tuple(
            f"{figure}/{{backend}} "
            for figure in ("enqueue", "burndown_c16", "cron_burst_2000", "http_post")
        ),
        refuse=("FAILED",),
    ),
    "queue_throughput": _script(
        "queue_throughput.py", "--n", "5", "--repeat", "1", "--latency", "5",
        "--backends", "{backend}", "--kinds", "{kinds}",
        expect=("straight into the runtime", "latency p50"), needs=(_a_broker,),
    ),
    "scheduler_burndown": _script(
        "scheduler_burndown.py", "--runs", "40", "--repeat", "1", "--backend", "{backend}",
        "--concurrency", "16", expect=("max_concurrent_runs=16",),
    ),
    "scheduler_enqueue": _script(
        "scheduler_enqueue.py", "--runs", "100", "--repeat", "1", "--backend", "{backend}",
        expect=("50 producers acked",),
    ),
    "scheduler_latency": _script(
        "scheduler_latency.py", "--samples", "3", "--repeat", "1", "--backend", "{backend}",
        expect=("scheduler, 500 runs/s load",),
    ),
    "store_sqlite": _script(
        "store_sqlite.py", "--runs", "100", "--repeat", "1", "--backend", "{backend}",
        expect=("claim(256) + complete_many",),
    ),
    "tracing_overhead": _script(
        "tracing_overhead.py", "--runs", "50", "--repeat", "1", "--backend", "{backend}",
        expect=("sdk  call",),
        needs=(_module("opentelemetry.sdk", "pip install -e '.[test]'"),),
    ),
    "webhook_throughput": _script(
        "webhook_throughput.py", "--duration", "1", "--rounds", "1", "--per-round", "20000",
        "--backends", "{backend}", "--modes", "intake", expect=("durable runs = every 202",),
        needs=(_program("wrk", "the HTTP load generator webhook_throughput.py drives"),),
    ),
}  # fmt: skip
#: Scripts without a backend option (asyncio only, or both backends in one run): run once.
ONCE_CASES = {
    "cron_startup": _script("cron_startup.py", "20", "1", expect=("ratio: start-up",)),
    "cron_startup-interval": _script(
        "cron_startup.py", "20", "1", "--interval", expect=("interval start-up, 20 specs",)
    ),
    "delayed_runs-lateness": _script(
        "delayed_runs.py", "lateness", "3", expect=('"late_ms_p99"',)
    ),
    "delayed_runs-claim": _script("delayed_runs.py", "claim", "50", expect=('"claim_ms_p99"',)),
    "plugin_host": _script("plugin_host.py", expect=("trio    50 plugins",)),
    "scheduler_apscheduler": _script(
        "scheduler_apscheduler.py", "--jobs", "10", "--repeat", "1", expect=("burn-down",),
        needs=tuple(
            _module(name, "a comparison run from its own virtualenv (see the script)")
            for name in ("apscheduler", "sqlalchemy", "aiosqlite")
        ),
    ),
    "serve_connections": _script(
        "serve_connections.py", "--connections", "3", "--rounds", "1", "--deadline", "20",
        expect=("hypercorn trio",),
    ),
    "serve_http": _script(
        "serve_http.py", "--requests", "32", "--rounds", "1", expect=("trio     post_run_c32",)
    ),
    "trio_par": Case(
        "trio_par.py", ("-c", TRIO_PAR, "--repeat", "1", "--json", "{tmp}/samples.jsonl"),
        expect=("hop_store", "acked/cpu", "burndown", "latency", "http_post"),
    ),
}  # fmt: skip
#: PostgreSQL scripts (a fresh database per measurement on the server of ``pg_admin_url``).
PG_CASES = {
    "pg_burndown": _script(
        "pg_burndown.py", "--runs", "20", "--repeat", "1", "--backend", "{backend}",
        expect=("2 worker processes",),
    ),
    "pg_enqueue": _script(
        "pg_enqueue.py", "--runs", "100", "--repeat", "1", "--backend", "{backend}",
        expect=("50 producers acked",),
    ),
    "pg_latency": _script(
        "pg_latency.py", "--runs", "3", "--repeat", "1", "--gap", "0.01",
        "--backend", "{backend}", expect=("polling only",),
    ),
    "pg_producer": _script(
        "pg_producer.py", "--runs", "10", "--repeat", "1", "--backend", "{backend}",
        expect=("submit, listen=false",),
    ),
}  # fmt: skip
CASES = {**BACKEND_CASES, **ONCE_CASES, **PG_CASES}


@dataclass(frozen=True)
class Outcome:
    argv: list[str]
    returncode: int | None  # None: killed at TIMEOUT
    output: str  # stdout and stderr
    seconds: float


class Runner:
    """Runs cases in subprocesses, PARALLEL at a time; each case once per backend."""

    def __init__(self, tmp: Path) -> None:
        self._tmp = tmp
        self._pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="bench-smoke")
        self._runs: dict[tuple[str, str | None], Future[Outcome]] = {}
        self._procs: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()

    def submit(self, name: str, backend: str | None, env: dict[str, str]) -> None:
        if (name, backend) not in self._runs:
            self._runs[name, backend] = self._pool.submit(self._run, name, backend, env)

    def outcome(self, name: str, backend: str | None, env: dict[str, str]) -> Outcome:
        self.submit(name, backend, env)
        return self._runs[name, backend].result()

    def _run(self, name: str, backend: str | None, env: dict[str, str]) -> Outcome:
        folder = self._tmp / f"{name}-{backend or 'once'}"
        folder.mkdir()
        fill = _filler(backend, folder)
        argv = [sys.executable, *map(fill, CASES[name].argv)]
        started = time.monotonic()
        # A session of its own: a timeout kills the script's servers and workers too.
        proc = subprocess.Popen(
            argv, cwd=REPO, env={**os.environ, **env}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        with self._lock:
            self._procs.add(proc)
        try:
            output, _ = proc.communicate(timeout=TIMEOUT)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            output, _ = proc.communicate()
            code = None
        finally:
            with self._lock:
                self._procs.discard(proc)
            _kill_group(proc.pid)  # anything the script left running
        return Outcome(argv, code, output, time.monotonic() - started)

    def close(self) -> None:
        """Drop the cases not started; kill the running ones (an interrupted session)."""
        for future in self._runs.values():
            future.cancel()
        with self._lock:
            for proc in self._procs:
                _kill_group(proc.pid)
        self._pool.shutdown(wait=True)


def _filler(backend: str | None, folder: Path) -> Callable[[str], str]:
    def fill(text: str) -> str:
        text = text.replace("{backend}", backend or "").replace("{tmp}", str(folder))
        return text.replace("{kinds}", ",".join(_kinds())) if "{kinds}" in text else text

    return fill


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has exited
        os.killpg(pgid, signal.SIGKILL)


def _pg_env(request: pytest.FixtureRequest) -> dict[str, str] | None:
    """The PostgreSQL server for the pg_* scripts (``pg_common`` reads it), or None if down."""
    try:
        url = request.getfixturevalue("pg_admin_url")
    except pytest.skip.Exception:
        return None
    return {"STARGRAPH_TEST_PG": str(url)}


@pytest.fixture(scope="module")
def runner(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runner]:
    """Starts every case selected in this session at once (in test order); skipped ones not."""
    run = Runner(tmp_path_factory.mktemp("bench"))
    here = Path(__file__).resolve()
    selected = [
        (item.callspec.params["name"], item.callspec.params.get("anyio_backend"))
        for item in request.session.items
        if Path(item.path).resolve() == here and hasattr(item, "callspec")
    ]
    pg = _pg_env(request) if any(name in PG_CASES for name, _ in selected) else None
    for name, backend in selected:
        if CASES[name].skip_reason() is None and (name not in PG_CASES or pg is not None):
            run.submit(name, backend, pg if name in PG_CASES and pg is not None else {})
    yield run
    run.close()


def _check(run: Runner, name: str, backend: str | None, env: dict[str, str] | None = None) -> None:
    case = CASES[name]
    if reason := case.skip_reason():
        pytest.skip(reason)
    out = run.outcome(name, backend, env or {})
    fill = _filler(backend, Path("."))
    shown = f"$ {' '.join(out.argv)}\n({out.seconds:.1f} s)\n{out.output}"
    assert out.returncode is not None, (
        f"{case.script} still running after {TIMEOUT:.0f} s:\n{shown}"
    )
    assert out.returncode == 0, f"{case.script} exited {out.returncode}:\n{shown}"
    for text in map(fill, case.expect):
        assert text in out.output, f"{case.script} did not print {text!r}:\n{shown}"
    for text in map(fill, case.refuse):
        assert text not in out.output, f"{case.script} printed {text!r}:\n{shown}"


@pytest.mark.parametrize("name", BACKEND_CASES)
def test_script(name: str, anyio_backend: str, runner: Runner) -> None:
    _check(runner, name, anyio_backend)


@pytest.mark.parametrize("name", ONCE_CASES)
def test_script_once(name: str, runner: Runner) -> None:
    _check(runner, name, None)


@pytest.mark.postgres
@pytest.mark.parametrize("name", PG_CASES)
def test_pg_script(name: str, anyio_backend: str, pg_admin_url: str, runner: Runner) -> None:
    _check(runner, name, anyio_backend, {"STARGRAPH_TEST_PG": pg_admin_url})


def test_every_script_has_a_case() -> None:
    """A new benchmark script needs a case here (or, if only imported, a place in HELPERS)."""
    scripts = {path.name for path in BENCH.glob("*.py")} - HELPERS
    assert scripts == {case.script for case in CASES.values()}
