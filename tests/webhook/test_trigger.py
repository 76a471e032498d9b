"""WebhookTrigger as a plugin: entry point, no-op without specs, config errors, control."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import anyio
import pytest

from stargraph.errors import ConfigError, StargraphRuntimeError, TriggerNotFound
from stargraph.hosting import PluginState
from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, GraphRegistry
from stargraph.triggers import Trigger
from stargraph.triggers.control import ControllableTrigger
from stargraph.triggers.webhook import WebhookTrigger
from stargraph.triggers.webhook.routes import BLUEPRINT_NAME

from .conftest import DEFAULT_GRAPHS, webhook_plugin
from .test_e2e import spec

WEBHOOK_EP = "stargraph:stargraph.triggers:webhook"


def test_entry_point_and_protocols() -> None:
    (ep,) = [e for e in entry_points(group="stargraph.triggers") if e.name == "webhook"]
    assert ep.load() is WebhookTrigger
    trigger = WebhookTrigger()
    assert isinstance(trigger, Trigger) and isinstance(trigger, ControllableTrigger)


class _Sched:
    graphs = GraphRegistry(DEFAULT_GRAPHS)
    store = None


def test_init_checks() -> None:
    t = WebhookTrigger()
    t.init({})
    assert t.routes() == [] and t.trigger_ids() == []
    with pytest.raises(StargraphRuntimeError, match=r"requires deps\['scheduler'\]"):
        WebhookTrigger().init({"webhook_specs": [spec("github")]})
    with pytest.raises(ConfigError, match=r"webhook:github.*'nope' is not registered.*on_event"):
        WebhookTrigger().init(
            {"scheduler": _Sched(), "webhook_specs": [spec("github", graph_id="nope")]}
        )
    with pytest.raises(ConfigError, match="used twice"):
        WebhookTrigger().init(
            {"scheduler": _Sched(), "webhook_specs": [spec("github"), spec("github", path="/x")]}
        )
    with pytest.raises(ConfigError, match="already used"):
        WebhookTrigger().init(
            {
                "scheduler": _Sched(),
                "webhook_specs": [spec("github"), spec("slack", path="/hooks/github")],
            }
        )
    with pytest.raises(ConfigError, match="cannot import module 'nope_mod'"):
        WebhookTrigger().init(
            {"scheduler": _Sched(), "webhook_specs": [spec("github", params="nope_mod:f")]}
        )
    t = WebhookTrigger()
    t.init({"scheduler": _Sched(), "webhook_specs": [spec("github"), spec("slack")]})
    (bp,) = t.routes()
    assert bp.name == BLUEPRINT_NAME
    assert t.trigger_ids() == ["webhook:github", "webhook:slack"]


def _state(rt: Runtime) -> Any:
    return {s.name: s for s in rt.host.statuses()}[WEBHOOK_EP]


async def test_runtime_without_specs_is_a_silent_noop(sqlite_url: str) -> None:
    async with Runtime(sqlite_url, graphs=DEFAULT_GRAPHS, graph_entry_points=False) as rt:
        assert _state(rt).state is PluginState.running
        assert not [bp for bp in rt.routes if bp.name == BLUEPRINT_NAME]
        assert webhook_plugin(rt).trigger_ids() == []


async def test_unknown_graph_fails_the_plugin_with_a_config_error(sqlite_url: str) -> None:
    deps = {"webhook_specs": [spec("github", graph_id="missing_graph")]}
    async with Runtime(
        sqlite_url, graphs=DEFAULT_GRAPHS, deps=deps, graph_entry_points=False
    ) as rt:
        status = _state(rt)
        assert status.state in {PluginState.failed, PluginState.load_failed}
        assert "ConfigError" in (status.error or "") and "missing_graph" in (status.error or "")
        assert "webhook:github" in (status.error or "")


async def test_control_surface(sqlite_url: str) -> None:
    deps = {"webhook_specs": [spec("github"), spec("slack")]}
    async with Runtime(
        sqlite_url,
        graphs=[Graph(graph_id="on_event", fn=lambda p, c: None)],
        deps=deps,
        graph_entry_points=False,
    ) as rt:
        t = webhook_plugin(rt)
        with anyio.fail_after(10):
            infos = await t.describe()
            assert [(i.trigger_id, i.kind, i.graph_id, i.paused) for i in infos] == [
                ("webhook:github", "webhook", "on_event", False),
                ("webhook:slack", "webhook", "on_event", False),
            ]
            with pytest.raises(StargraphRuntimeError, match="cannot fire without a delivery"):
                await t.fire("webhook:github")
            with pytest.raises(TriggerNotFound):
                await t.pause("webhook:nope")
            await t.pause("webhook:slack", note="rotating")
            state = await rt.store.get_trigger_state("webhook:slack")
            assert state is not None and state.paused and state.note == "rotating"
            assert not (await t.resume("webhook:slack")).paused
