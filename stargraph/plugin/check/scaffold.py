"""``stargraph plugins new NAME``: write a ready trigger package (``stargraph-NAME``).

The package holds an anyio-native trigger class (its loop in ``deps["task_group"]``) that
enqueues one run per file content in ``deps["NAME_folder"]``, a module of ``@hookimpl``
functions (the seed's second entry-point form), both entry points in ``pyproject.toml``, a test
file using :class:`~stargraph.testing.TriggerHarness`, and a README.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from stargraph.errors import StargraphRuntimeError

__all__ = ["write_package"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")

_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "stargraph-$dash"
version = "0.1.0"
description = "A Stargraph trigger: one graph run per file content in a folder."
requires-python = ">=3.11"
dependencies = ["stargraph>=0.2"]

[project.optional-dependencies]
test = ["pytest>=8", "trio>=0.25"]

# The class entry point: Stargraph instantiates it and calls init/start/stop/routes.
[project.entry-points."stargraph.triggers"]
$name = "$package.trigger:$cls"

# The same trigger as a module of @hookimpl functions (reads its own ${name}_hooks_* keys).
[project.entry-points.stargraph]
${name}_hooks = "$package.hooks"

[tool.setuptools]
packages = ["$package"]

[tool.pytest.ini_options]
addopts = "-p no:cacheprovider"
"""

_INIT = '''\
"""A Stargraph trigger plugin: ``$cls``."""

from $package.trigger import $cls

__all__ = ["$cls"]
'''

_TRIGGER = '''\
"""``$cls``: one graph run per file content in ``deps["${name}_folder"]``.

anyio-native: the loop runs in ``deps["task_group"]``, so it works on asyncio and trio, the
host sees its crashes, and cancelling the task group stops it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import anyio

from stargraph.errors import StargraphRuntimeError


def scan(folder: Path, seen: dict[Path, tuple[int, int]]) -> list[tuple[Path, str]]:
    """``(path, sha256)`` of each visible file that is new or changed since the last look."""
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        stat = path.stat()
        if seen.get(path) != (stat.st_size, stat.st_mtime_ns):
            seen[path] = (stat.st_size, stat.st_mtime_ns)
            found.append((path, hashlib.sha256(path.read_bytes()).hexdigest()))
    return found


class $cls:
    """Reads ``${prefix}_folder`` and ``${prefix}_graph_id`` (default ``$name``) from deps;
    idle when no folder is configured."""

    prefix = "$name"

    def init(self, deps: dict[str, Any]) -> None:
        if "scheduler" not in deps:
            raise StargraphRuntimeError(
                f"{type(self).__name__}.init(deps) requires deps['scheduler']"
            )
        self._scheduler = deps["scheduler"]
        self._task_group = deps.get("task_group")
        folder = deps.get(f"{self.prefix}_folder")
        self._folder = Path(folder) if folder else None
        self._graph_id = deps.get(f"{self.prefix}_graph_id", "$name")
        self._interval = float(deps.get(f"{self.prefix}_interval", 1.0))

    def start(self) -> None:
        if self._folder is None:
            return
        if self._task_group is None:
            raise StargraphRuntimeError(
                f"{type(self).__name__}.start() requires deps['task_group']"
            )
        self._seen: dict[Path, tuple[int, int]] = {}
        self._task_group.start_soon(self._watch)

    def stop(self) -> None:
        """Nothing to do: the host already cancelled our task group."""

    def routes(self) -> list[Any]:
        return []

    async def _watch(self) -> None:
        while True:
            found = await anyio.to_thread.run_sync(scan, self._folder, self._seen)  # disk I/O
            for path, digest in found:
                # The key comes from the signal (path + content), so a restart or a second
                # node never makes a second run for the same file content.
                self._scheduler.enqueue(
                    graph_id=self._graph_id,
                    params={"path": str(path)},
                    idempotency_key=f"$name:{path}:{digest}",
                )
            await anyio.sleep(self._interval)
'''

_HOOKS = '''\
"""The same trigger as plain pluggy hooks (the seed's second form), under its own keys:
``${name}_hooks_folder`` and ``${name}_hooks_graph_id``; idle without them."""

from __future__ import annotations

from typing import Any

from stargraph.plugin._markers import hookimpl

from $package.trigger import $cls


class _Hooked($cls):
    prefix = "${name}_hooks"


_trigger = _Hooked()


@hookimpl
def trigger_init(deps: dict[str, Any]) -> None:
    _trigger.init(deps)


@hookimpl
def trigger_start(deps: dict[str, Any]) -> None:
    _trigger.start()


@hookimpl
def trigger_stop(deps: dict[str, Any]) -> None:
    _trigger.stop()


@hookimpl
def trigger_routes() -> list[Any]:
    return _trigger.routes()
'''

_CONFTEST = """\
import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param
"""

_TEST = '''\
"""$cls on a real store, on asyncio and trio (stargraph.testing)."""

from pathlib import Path

import pytest

from stargraph.testing import TriggerHarness, check_trigger
from $package.trigger import $cls

pytestmark = pytest.mark.anyio


def drop(folder: Path, name: str, text: str) -> None:
    part = folder / f".{name}.part"
    part.write_text(text)
    part.replace(folder / name)


async def test_one_run_per_file_content(tmp_path: Path) -> None:
    deps = {"${name}_folder": str(tmp_path), "${name}_interval": 0.05}
    async with TriggerHarness($cls(), deps) as h:
        await h.start()
        drop(tmp_path, "a.txt", "hello")
        runs = await h.wait_for_runs(1)
        assert runs[0].params == {"path": str(tmp_path / "a.txt")}
        assert runs[0].trigger_source == "plugin"
        await h.restart()  # what the host does after a crash: same keys, no second run
        assert len(await h.quiet(0.3)) == 1


async def test_conformance(tmp_path: Path) -> None:
    def signal(ctx) -> None:
        drop(tmp_path, "signal.txt", "same content every round")

    deps = {"${name}_folder": str(tmp_path), "${name}_interval": 0.05}
    report = await check_trigger($cls, deps, signal=signal)
    assert report.ok, report.text()
'''

_README = """\
# stargraph-$dash

A Stargraph trigger plugin, written by `stargraph plugins new $name`: one graph run per file
content that lands in a folder. Replace the folder scan with your own signal source.

Entry points (plugin names as `stargraph plugins list` shows them):

- `stargraph-$dash:stargraph.triggers:$name`, the class: reads `${name}_folder` and
  `${name}_graph_id` from `[deps]`;
- `stargraph-$dash:stargraph:${name}_hooks`, the same as `@hookimpl` functions: reads
  `${name}_hooks_folder` and `${name}_hooks_graph_id`.

Each is idle until its folder key is set. Keys are `$name:<path>:<sha256>`: the same content
never makes a second run, after a restart or on another node.

```console
$$ pip install -e '.[test]'
$$ pytest                                  # the harness tests, on asyncio and trio
$$ STARGRAPH_TRACE_PLUGINS=1 stargraph plugins check $name \\
    --deps ${name}_folder={workdir} --signal stargraph.plugin.check.signals:drop_files
```

Then in `stargraph.toml`:

```toml
[deps]
${name}_folder = "/srv/inbox"
${name}_graph_id = "ingest"
```

See Stargraph's `docs/plugins.md` (the author's guide) for the contract and production advice.
"""


def _files(name: str) -> dict[str, str]:
    words = {
        "name": name,
        "dash": name.replace("_", "-"),
        "package": f"stargraph_{name}",
        "cls": "".join(part.title() for part in name.split("_")) + "Trigger",
        "prefix": name,
    }
    package = words["package"]
    layout = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        f"{package}/__init__.py": _INIT,
        f"{package}/trigger.py": _TRIGGER,
        f"{package}/hooks.py": _HOOKS,
        "tests/conftest.py": _CONFTEST,
        f"tests/test_{name}.py": _TEST,
    }
    return {path: Template(text).substitute(words) for path, text in layout.items()}


def write_package(name: str, parent: Path) -> Path:
    """Write ``parent/stargraph-NAME`` and return it; refuse to touch an existing folder."""
    if not _NAME.match(name):
        raise StargraphRuntimeError(
            f"plugins new: NAME must be lower-case letters, digits and _ (starting with a "
            f"letter), got {name!r}"
        )
    folder = parent / f"stargraph-{name.replace('_', '-')}"
    if folder.exists():
        raise StargraphRuntimeError(
            f"plugins new: {folder} already exists; remove it or choose another NAME "
            "(nothing was written)"
        )
    for rel, text in _files(name).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder
