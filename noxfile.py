"""The test matrix: backend x Python, plus lint and type checks."""

from __future__ import annotations

import os
from pathlib import Path

import nox

PYTHONS = ["3.11", "3.12", "3.13"]


def _add_pyenv_interpreters() -> None:
    """Put pyenv-installed interpreters on PATH so nox finds ``python3.X`` without shims."""
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = [str(b) for v in PYTHONS for b in sorted(versions.glob(f"{v}.*/bin"))[-1:]]
    if found:
        os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


_add_pyenv_interpreters()
nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck"]


@nox.session(python=PYTHONS)
@nox.parametrize("backend", ["asyncio", "trio"])
def tests(session: nox.Session, backend: str) -> None:
    """Run the suite on one backend and one Python."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs, env={"STARGRAPH_TEST_BACKENDS": backend})


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "stargraph")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Quick benchmark gate (reduced set, asyncio and trio); ``-- --record`` / ``-- --strict``."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/gate.py", *session.posargs)


@nox.session(python="3.11")
def chaos(session: nox.Session) -> None:
    """The full chaos campaign (tests/chaos at ``full`` size, both backends); docs/reliability.md.

    ``nox -s chaos`` writes each scenario's figures to ``chaos-report.jsonl``; replay a failure
    with ``STARGRAPH_CHAOS_SEED=<the printed seed> nox -s chaos``. Needs root for the disk-full
    tmpfs and the local PostgreSQL server (.ci/run starts it); without them those parts skip.
    """
    session.install("-e", ".[test]")
    env = {"STARGRAPH_CHAOS": "full", "STARGRAPH_CHAOS_REPORT": "chaos-report.jsonl"}
    seed = os.environ.get("STARGRAPH_CHAOS_SEED")
    if seed:
        env["STARGRAPH_CHAOS_SEED"] = seed
    session.run(
        "pytest",
        "-q",
        "-n",
        "0",
        "-rxXs",
        "-p",
        "no:randomly",
        "tests/chaos",
        *session.posargs,
        env=env,
    )


@nox.session(python="3.11")
def screenshots(session: nox.Session) -> None:
    """Regenerate docs/console/*.png with the browser tests (needs Debian's chromium)."""
    session.install("-e", ".[test]")
    session.run("python", "tests/browser/make_screenshots.py", *session.posargs)
