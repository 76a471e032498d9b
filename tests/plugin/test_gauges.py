"""Each Prometheus gauge has one writer on Metrics, covering every state and status."""

from __future__ import annotations

from stargraph.hosting import PluginState, TriggerHost
from stargraph.metrics import Metrics
from stargraph.plugin import LoadRecord, LoadReport, StargraphPluginManager
from stargraph.store.base import RunStatus


def _sample(metrics: Metrics, name: str, labels: dict[str, str]) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_trigger_state_is_one_hot_over_every_plugin_state() -> None:
    metrics = Metrics()
    metrics.set_trigger_state("p", PluginState.running)
    metrics.set_trigger_state("p", PluginState.load_failed)
    values = {
        state.value: _sample(metrics, "stargraph_trigger_state", {"plugin": "p", "state": state})
        for state in PluginState
    }
    assert values == {state.value: float(state is PluginState.load_failed) for state in PluginState}


def test_never_hosted_plugins_get_their_gauge_from_the_host() -> None:
    pm = StargraphPluginManager()
    base = {"dist": "d", "group": "stargraph.triggers"}
    pm.report = LoadReport(
        records=(
            LoadRecord(name="d:g:off", entry_point="off", status="disabled", **base),
            LoadRecord(name="d:g:bad", entry_point="bad", status="load_failed", error="E", **base),
        )
    )
    metrics = Metrics()
    TriggerHost(pm, {"metrics": metrics})
    off = {"plugin": "d:g:off"}
    bad = {"plugin": "d:g:bad"}
    assert _sample(metrics, "stargraph_trigger_state", off | {"state": "disabled"}) == 1
    assert _sample(metrics, "stargraph_trigger_state", off | {"state": "running"}) == 0
    assert _sample(metrics, "stargraph_trigger_state", bad | {"state": "load_failed"}) == 1


def test_queue_depth_fills_every_status() -> None:
    metrics = Metrics()
    metrics.set_queue_depth({RunStatus.pending: 3})
    depth = {s.value: _sample(metrics, "stargraph_queue_depth", {"status": s}) for s in RunStatus}
    assert depth == {s.value: (3.0 if s is RunStatus.pending else 0.0) for s in RunStatus}
