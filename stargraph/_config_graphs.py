"""``[graphs.<id>]`` targets imported into :class:`~stargraph.scheduler.Graph` objects."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

import attrs

from stargraph.errors import ConfigError

if TYPE_CHECKING:
    from stargraph.config import GraphConfig, StargraphConfig
    from stargraph.scheduler import Graph

__all__ = ["import_target", "load_graphs"]


def import_target(target: str, where: str) -> Any:
    """Import ``module:attr.path`` or raise :class:`ConfigError` prefixed by *where*."""
    module_name, _, attr_path = target.partition(":")
    if not module_name or not attr_path:
        raise ConfigError(f"{where}: must be 'module:callable', got {target!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(
            f"{where}: cannot import module {module_name!r} ({type(exc).__name__}: {exc})"
        ) from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{where}: {module_name!r} has no attribute {attr_path!r}") from None
    return obj


def _graph(cfg: StargraphConfig, g: GraphConfig) -> Graph:
    from stargraph.scheduler import Graph, RunPolicy

    where = f"{cfg.path or '<config>'}: graphs.{g.graph_id}.target"
    obj = import_target(g.target, where)
    policy = RunPolicy(
        concurrency=g.concurrency,
        timeout=g.timeout,
        max_attempts=g.max_attempts,
        backoff_base=g.backoff_base,
        backoff_max=g.backoff_max,
        jitter=g.jitter,
    )
    if isinstance(obj, Graph):
        return attrs.evolve(obj, graph_id=g.graph_id, policy=policy)
    if not callable(obj):
        raise ConfigError(f"{where}: {g.target!r} is a {type(obj).__name__}, not a callable")
    return Graph(graph_id=g.graph_id, fn=obj, policy=policy)


def load_graphs(cfg: StargraphConfig) -> list[Graph]:
    """Import every configured graph with the config file's folder first on ``sys.path``."""
    folder = str(cfg.folder)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return [_graph(cfg, g) for g in cfg.graphs]
