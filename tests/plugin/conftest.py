"""Plugin-test fixtures: really installed fixture distributions, and hand-written ones.

``installed_fixture_dist`` pip-installs ``fixtures/sg-fixture-plugins`` once per session into a
private target folder (not the shared venv, so no other test sees these plugins);
``make_dist`` writes a tiny package plus its ``*.dist-info`` (METADATA, entry_points.txt) into a
temporary folder on ``sys.path`` -- the layout ``importlib.metadata`` reads for any install.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def _builds_in_place() -> bool:
    """True when this interpreter's setuptools can build wheels itself (>= 70.1)."""
    try:
        from setuptools import __version__
    except ImportError:
        return False
    return tuple(int(p) for p in __version__.split(".")[:2]) >= (70, 1)


def pip_install(source: Path, target: Path, workdir: Path) -> Path:
    """Build and install *source* into *target* with pip; return *target*.

    The source is copied first so the build leaves nothing behind in the repository. With the
    test extra's setuptools the build needs no download; otherwise pip fetches it (isolation).
    """
    copy = workdir / source.name
    shutil.copytree(source, copy)
    isolation = [] if not _builds_in_place() else ["--no-build-isolation"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            *isolation,
            "--target",
            str(target),
            str(copy),
        ],
        check=True,
        timeout=300,
    )
    return target


def forget_modules(*prefixes: str) -> None:
    """Drop imported modules under *prefixes* so the next test imports them afresh."""
    for name in [m for m in sys.modules if m.split(".")[0] in prefixes]:
        del sys.modules[name]


@pytest.fixture(scope="session")
def installed_fixture_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("fixture-build")
    return pip_install(FIXTURES / "sg-fixture-plugins", work / "site", work)


@pytest.fixture
def fixture_dist(installed_fixture_dist: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Put the installed fixture distribution on ``sys.path`` for one test."""
    monkeypatch.syspath_prepend(str(installed_fixture_dist))
    yield installed_fixture_dist
    forget_modules("sg_fixture_plugins")


MakeDist = Callable[[str, Mapping[str, str], Mapping[str, Mapping[str, str]]], Path]


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """Return ``make(dist_name, {module_path: source}, {group: {ep_name: value}})``, which
    writes the distribution and returns its ``.dist-info`` folder."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    packages: set[str] = set()

    def make(dist: str, modules: Mapping[str, str], eps: Mapping[str, Mapping[str, str]]) -> Path:
        for rel, source in modules.items():
            path = site / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
            packages.add(Path(rel).parts[0].removesuffix(".py"))
        info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        lines = [
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items)
            for group, items in ((g, list(e.items())) for g, e in eps.items())
        ]
        (info / "entry_points.txt").write_text("\n".join(lines))
        return info

    yield make
    forget_modules(*packages)
