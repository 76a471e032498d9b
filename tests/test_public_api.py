"""The flat public namespace, and no import cycle between Stargraph's modules."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import stargraph

ROOT = Path(stargraph.__file__).parent


def test_flat_namespace_matches_the_canonical_modules() -> None:
    from stargraph import (
        ControllableTrigger,
        Graph,
        RunPolicy,
        Runtime,
        Scheduler,
        SchedulerSettings,
        StargraphRuntimeError,
        Trigger,
        TriggerEvent,
        TriggerInfo,
    )
    from stargraph.errors import StargraphRuntimeError as canonical_error
    from stargraph.runtime import Runtime as canonical_runtime
    from stargraph.scheduler import Graph as canonical_graph
    from stargraph.scheduler import RunPolicy as canonical_policy
    from stargraph.scheduler import Scheduler as canonical_scheduler
    from stargraph.scheduler import SchedulerSettings as canonical_settings
    from stargraph.triggers import Trigger as canonical_trigger
    from stargraph.triggers import TriggerEvent as canonical_event
    from stargraph.triggers.control import ControllableTrigger as canonical_control
    from stargraph.triggers.control import TriggerInfo as canonical_info

    pairs = [
        (Runtime, canonical_runtime),
        (Graph, canonical_graph),
        (RunPolicy, canonical_policy),
        (Scheduler, canonical_scheduler),
        (SchedulerSettings, canonical_settings),
        (Trigger, canonical_trigger),
        (TriggerEvent, canonical_event),
        (ControllableTrigger, canonical_control),
        (TriggerInfo, canonical_info),
        (StargraphRuntimeError, canonical_error),
    ]
    assert all(ours is theirs for ours, theirs in pairs)


def test_every_exported_name_resolves() -> None:
    missing = [name for name in stargraph.__all__ if getattr(stargraph, name, None) is None]
    assert missing == []
    assert set(stargraph.__all__) <= set(dir(stargraph))


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        stargraph.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:  # pragma: no cover - the assertion below fails
        raise AssertionError("stargraph.NoSuchThing resolved")


def test_importing_errors_does_not_import_the_runtime() -> None:
    code = "import sys, stargraph.errors; print('stargraph.runtime' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def _module_names() -> dict[str, Path]:
    names: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Modules *name* imports at module level (not under ``if TYPE_CHECKING``), with parents."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*head, base] if base else head)
            subs = {f"{base}.{a.name}" for a in node.names} & known.keys()
            found.update(subs or {base})
    closed = set()
    for target in found & known.keys():
        parts = target.split(".")
        for i in range(1, len(parts) + 1):
            ancestor = ".".join(parts[:i])
            if ancestor != name and not name.startswith(ancestor + "."):
                closed.add(ancestor)
    return closed & known.keys()


def test_no_module_level_import_cycle() -> None:
    known = _module_names()
    graph = {name: _imported(name, path, known) for name, path in known.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_each_package_imports_first_in_a_fresh_interpreter() -> None:
    packages = [
        "stargraph.plugin",
        "stargraph.triggers",
        "stargraph.serve.app",
        "stargraph.cli.commands",
        "stargraph.hosting",
    ]
    code = "import importlib, sys; importlib.import_module(sys.argv[1])"
    for name in packages:
        subprocess.run([sys.executable, "-c", code, name], check=True)
    assert importlib.import_module("stargraph.views").__name__ == "stargraph.views"
