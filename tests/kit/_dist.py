"""Install a plugin distribution into a private folder (never the project venv), run tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def install(source: Path, work: Path) -> Path:
    """``pip install --target`` a copy of *source*; return the folder to put on PYTHONPATH."""
    copy = shutil.copytree(source, work / f"src-{source.name}")
    site = work / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "--target",
            str(site),
            str(copy),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return site


def run(
    site: Path, argv: list[str], *, cwd: Path | None = None, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run *argv* with *site* on PYTHONPATH (and without a trace setting from outside)."""
    full = {k: v for k, v in os.environ.items() if k != "STARGRAPH_TRACE_PLUGINS"}
    full.update(env, PYTHONPATH=str(site))
    return subprocess.run(
        argv, env=full, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def stargraph(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``stargraph ARGS`` with *site* on PYTHONPATH."""
    return run(site, [str(BIN / "stargraph"), *args], **env)
