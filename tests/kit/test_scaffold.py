"""``stargraph plugins new demo`` -> install (privately) -> its tests pass -> ``plugins check``
passes -> ``STARGRAPH_TRACE_PLUGINS=1`` shows its registration. Refuses to overwrite."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stargraph.cli import main

from ._dist import install, run, stargraph


@pytest.mark.slow
def test_new_install_test_check_trace(tmp_path: Path) -> None:
    made = stargraph(tmp_path, "plugins", "new", "demo", "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    package = tmp_path / "stargraph-demo"
    assert sorted(p.name for p in package.iterdir()) == [
        "README.md",
        "pyproject.toml",
        "stargraph_demo",
        "tests",
    ]
    again = stargraph(tmp_path, "plugins", "new", "demo", "--dir", str(tmp_path))
    assert again.returncode == 1 and "already exists" in again.stderr

    site = install(package, tmp_path / "install")
    tests = run(site, [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"], cwd=package)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout, tests.stdout

    check = stargraph(
        site,
        "plugins",
        "check",
        "demo",
        "--deps",
        "demo_folder={workdir}",
        "--deps",
        "demo_interval=0.05",
        "--signal",
        "stargraph.plugin.check.signals:drop_files",
        STARGRAPH_TRACE_PLUGINS="1",
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.rstrip().endswith("verdict: passed"), check.stdout
    register = [line for line in check.stderr.splitlines() if " plugin.register " in line]
    for name in ("stargraph-demo:stargraph.triggers:demo", "stargraph-demo:stargraph:demo_hooks"):
        assert any(f"name='{name}'" in line for line in register), check.stderr


def test_bad_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "new", "Bad-Name", "--dir", str(tmp_path)]) == 1
    assert "NAME must be lower-case" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
