"""The test matrix: backend x Python, plus lint and type checks."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck"]


@nox.session(python=["3.11", "3.12", "3.13"])
@nox.parametrize("backend", ["asyncio", "trio"])
def tests(session: nox.Session, backend: str) -> None:
    """Run the suite on one backend and one Python."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs, env={"STARGRAPH_TEST_BACKENDS": backend})


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff check over the whole tree."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "stargraph")
