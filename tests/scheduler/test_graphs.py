"""GraphRegistry: programmatic, "module:callable" targets and the stargraph.graphs entry points."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stargraph.errors import ConfigError, UnknownGraph
from stargraph.scheduler import Graph, GraphRegistry, RunContext, RunPolicy

MODULE = """
from stargraph.scheduler import Graph, RunPolicy

async def nightly(params, ctx):
    return "async"

def sync_job(params, ctx):
    return "sync"

class Jobs:
    @staticmethod
    async def nested(params, ctx):
        return "nested"

prebuilt = Graph(graph_id="prebuilt", fn=nightly, policy=RunPolicy(max_attempts=4))
not_callable = 42
"""

ENTRY_POINTS = """
[stargraph.graphs]
ep_nightly = sg_test_graphs:nightly
ep_prebuilt = sg_test_graphs:prebuilt
"""


@pytest.fixture
def graphs_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real module on sys.path, plus installed-package metadata declaring entry points."""
    (tmp_path / "sg_test_graphs.py").write_text(MODULE)
    dist = tmp_path / "sg_test_graphs-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sg-test-graphs\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("sg_test_graphs", None)


async def _fn(params: dict[str, Any], ctx: RunContext) -> None:
    return None


def test_add_get_ids_contains() -> None:
    registry = GraphRegistry([Graph(graph_id="b", fn=_fn), Graph(graph_id="a", fn=_fn)])
    assert registry.ids() == ["a", "b"] and "a" in registry and len(registry) == 2
    assert registry.get("a").graph_id == "a"
    with pytest.raises(UnknownGraph, match="'zzz'; registered graphs: a, b"):
        registry.get("zzz")
    with pytest.raises(ConfigError, match="'a' is already registered"):
        registry.add(Graph(graph_id="a", fn=_fn))
    registry.add(Graph(graph_id="a", fn=_fn, policy=RunPolicy(concurrency=2)), replace=True)
    assert registry.graph_limits() == {"a": 2}


def test_graph_detects_async_and_sync_callables() -> None:
    class AsyncCallable:
        async def __call__(self, params: dict[str, Any], ctx: RunContext) -> None:
            return None

    def sync(params: dict[str, Any], ctx: RunContext) -> None:
        return None

    assert Graph(graph_id="a", fn=_fn).is_async
    assert Graph(graph_id="c", fn=AsyncCallable()).is_async
    assert not Graph(graph_id="s", fn=sync).is_async
    with pytest.raises(ConfigError, match="callable"):
        Graph(graph_id="x", fn="not callable")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="non-empty"):
        Graph(graph_id="", fn=_fn)


@pytest.mark.usefixtures("graphs_module")
def test_load_target_variants() -> None:
    registry = GraphRegistry()
    g = registry.load_target("sg_test_graphs:nightly")
    assert g.graph_id == "nightly" and g.is_async
    g = registry.load_target(
        "sg_test_graphs:sync_job", graph_id="report", policy=RunPolicy(timeout=5)
    )
    assert g.graph_id == "report" and not g.is_async and g.policy.timeout == 5
    g = registry.load_target("sg_test_graphs:Jobs.nested", graph_id="nested")
    assert g.is_async
    g = registry.load_target("sg_test_graphs:prebuilt")
    assert g.graph_id == "prebuilt" and g.policy.max_attempts == 4
    assert registry.ids() == ["nested", "nightly", "prebuilt", "report"]


@pytest.mark.usefixtures("graphs_module")
def test_load_target_errors_name_the_target() -> None:
    registry = GraphRegistry()
    with pytest.raises(ConfigError, match=r"must look like 'package\.module:callable'"):
        registry.load_target("sg_test_graphs.nightly")
    with pytest.raises(ConfigError, match="cannot import module 'no_such_module_xyz'"):
        registry.load_target("no_such_module_xyz:fn")
    with pytest.raises(ConfigError, match="has no attribute 'missing'"):
        registry.load_target("sg_test_graphs:missing")
    with pytest.raises(ConfigError, match="neither a Graph nor callable"):
        registry.load_target("sg_test_graphs:not_callable")


@pytest.mark.usefixtures("graphs_module")
def test_entry_points_register_graphs_explicit_ones_win() -> None:
    explicit = Graph(graph_id="ep_nightly", fn=_fn, policy=RunPolicy(max_attempts=9))
    registry = GraphRegistry([explicit])
    added = registry.load_entry_points()
    assert added == ["ep_prebuilt"]
    assert registry.get("ep_nightly") is explicit
    prebuilt = registry.get("ep_prebuilt")
    assert prebuilt.policy.max_attempts == 4  # a Graph object keeps its policy
    assert GraphRegistry().load_entry_points() == ["ep_nightly", "ep_prebuilt"]
