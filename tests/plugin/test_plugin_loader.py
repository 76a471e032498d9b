"""build_plugin_manager: entry-point shapes, deterministic order, isolation of every failure."""

from __future__ import annotations

import inspect
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
import pytest

from stargraph.errors import PluginLoadError
from stargraph.plugin import (
    LoadRecord,
    PluginMetadata,
    StargraphPluginManager,
    TriggerAdapter,
    build_plugin_manager,
    hookimpl,
    hookspecs,
    load_report,
    unwrap,
)
from stargraph.plugin._adapter import as_plugin
from stargraph.plugin._trace import enable_trace_from_env
from stargraph.plugin.loader import _reject_unknown_hooks as reject_unknown_hooks

FIX = "sg-fixture-plugins"
MakeDist = Callable[..., Path]  # the make_dist fixture of tests/plugin/conftest.py

TRIGGER_SRC = """
class Good:
    def init(self, deps): self.deps = deps
    def start(self): pass
    def stop(self): pass
    def routes(self): return []
"""


def records(pm: pluggy.PluginManager, dist: str) -> dict[str, LoadRecord]:
    return {r.name: r for r in load_report(pm).records if r.dist == dist}


def names(pm: pluggy.PluginManager, dist: str) -> list[str]:
    return [n for n, p in pm.list_name_plugin() if p is not None and n.startswith(dist + ":")]


# --- happy paths, from a really installed distribution ---------------------------------------


def test_class_entry_point_is_instantiated_and_adapted(fixture_dist: Path) -> None:
    pm = build_plugin_manager()
    plugin = pm.get_plugin(f"{FIX}:stargraph.triggers:klass")
    assert isinstance(plugin, TriggerAdapter)
    trigger = unwrap(plugin)
    assert type(trigger).__name__ == "SyncTrigger"
    results = pm.hook.trigger_init(deps={"scheduler": 1})
    assert results  # answers the hook
    for result in results:  # the fixture's async trigger answered with a coroutine: not ours
        if inspect.iscoroutine(result):
            result.close()
    assert trigger.calls == ["init"]  # type: ignore[attr-defined]


def test_module_entry_point_is_registered_as_is(fixture_dist: Path) -> None:
    pm = build_plugin_manager()
    plugin = pm.get_plugin(f"{FIX}:stargraph:hooks")
    assert isinstance(plugin, ModuleType)
    assert plugin is sys.modules["sg_fixture_plugins.hooks"]


def test_factory_returning_metadata_registers_its_plugin(fixture_dist: Path) -> None:
    pm = build_plugin_manager()
    record = records(pm, FIX)[f"{FIX}:stargraph:stargraph_plugin"]
    assert record.status == "registered"
    assert record.metadata is not None
    assert (record.metadata.name, record.metadata.version) == ("fixture-factory", "0.1.0")
    plugin = pm.get_plugin(record.name)
    assert unwrap(plugin) is record.metadata.plugin


def test_order_is_sorted_by_dist_group_name_and_stable(fixture_dist: Path) -> None:
    expected = [
        f"{FIX}:stargraph:hooks",
        f"{FIX}:stargraph:stargraph_plugin",
        f"{FIX}:stargraph.triggers:async_klass",
        f"{FIX}:stargraph.triggers:klass",
    ]
    assert names(build_plugin_manager(), FIX) == expected
    assert names(build_plugin_manager(), FIX) == expected
    report_names = [r.name for r in load_report(build_plugin_manager()).records]
    assert report_names == sorted(report_names, key=lambda n: tuple(n.lower().split(":")))


def test_bundled_triggers_load_through_entry_points() -> None:
    pm = build_plugin_manager()
    record = records(pm, "stargraph")["stargraph:stargraph.triggers:manual"]
    assert record.status == "registered"
    assert type(unwrap(pm.get_plugin(record.name))).__name__ == "ManualTrigger"
    assert {r.name for r in records(pm, "stargraph").values()} >= {
        "stargraph:stargraph.triggers:cron",
        "stargraph:stargraph.triggers:webhook",
    }


def test_loading_is_quiet_and_logs_register_events(
    fixture_dist: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="stargraph.plugin"):
        build_plugin_manager()
    registered = [
        r.stargraph["name"]
        for r in caplog.records  # type: ignore[attr-defined]
        if r.getMessage() == "plugin.register"
    ]
    assert f"{FIX}:stargraph.triggers:klass" in registered


def test_direct_hook_call_keeps_pluggys_halt_on_first_error() -> None:
    pm = pluggy.PluginManager("stargraph")
    from stargraph.plugin import hookimpl, hookspecs

    pm.add_hookspecs(hookspecs)
    called: list[str] = []

    class Plugin:
        def __init__(self, tag: str, fail: bool = False) -> None:
            self.tag, self.fail = tag, fail

        @hookimpl
        def trigger_init(self, deps: dict[str, Any]) -> str:
            called.append(self.tag)
            if self.fail:
                raise RuntimeError(f"{self.tag} broke")
            return self.tag

    pm.register(Plugin("last-called"), name="a")  # pluggy calls later registrations first
    pm.register(Plugin("bad", fail=True), name="b")
    pm.register(Plugin("first-called"), name="c")
    with pytest.raises(RuntimeError, match="bad broke"):
        pm.hook.trigger_init(deps={})
    assert called == ["first-called", "bad"]


# --- failure modes: each isolated, reported, skipped -----------------------------------------


def test_import_error_is_isolated(make_dist: MakeDist, caplog: pytest.LogCaptureFixture) -> None:
    make_dist(
        "sg-t-imp",
        {
            "sgt_imp/__init__.py": "",
            "sgt_imp/ok.py": TRIGGER_SRC,
            "sgt_imp/broken.py": "import sgt_no_such_module\n",
        },
        {"stargraph.triggers": {"broken": "sgt_imp.broken:Good", "ok": "sgt_imp.ok:Good"}},
    )
    with caplog.at_level(logging.INFO, logger="stargraph.plugin"):
        pm = build_plugin_manager()
    recs = records(pm, "sg-t-imp")
    failed = recs["sg-t-imp:stargraph.triggers:broken"]
    assert failed.status == "load_failed"
    assert failed.error is not None and "ModuleNotFoundError" in failed.error
    assert recs["sg-t-imp:stargraph.triggers:ok"].status == "registered"
    assert names(pm, "sg-t-imp") == ["sg-t-imp:stargraph.triggers:ok"]
    event = next(
        r
        for r in caplog.records
        if r.getMessage() == "plugin.load.failed" and r.stargraph["dist"] == "sg-t-imp"
    )  # type: ignore[attr-defined]
    assert event.levelno == logging.WARNING
    fields = event.stargraph  # type: ignore[attr-defined]
    assert fields["group"] == "stargraph.triggers" and fields["entry_point"] == "broken"
    assert fields["name"] == failed.name and "sgt_no_such_module" in fields["error"]


def test_constructor_raising_is_isolated(make_dist: MakeDist) -> None:
    src = TRIGGER_SRC + "class Bad(Good):\n    def __init__(self): raise ValueError('no config')\n"
    make_dist(
        "sg-t-ctor",
        {"sgt_ctor.py": src},
        {"stargraph.triggers": {"bad": "sgt_ctor:Bad", "good": "sgt_ctor:Good"}},
    )
    pm = build_plugin_manager()
    bad = records(pm, "sg-t-ctor")["sg-t-ctor:stargraph.triggers:bad"]
    assert bad.status == "load_failed"
    assert bad.error == (
        "PluginLoadError: sg-t-ctor:stargraph.triggers:bad: constructing Bad() raised "
        "ValueError: no config"
    )
    assert names(pm, "sg-t-ctor") == ["sg-t-ctor:stargraph.triggers:good"]


def test_duplicate_name_is_isolated(make_dist: MakeDist) -> None:
    info = make_dist(
        "sg-t-dup", {"sgt_dup.py": TRIGGER_SRC}, {"stargraph.triggers": {"twin": "sgt_dup:Good"}}
    )
    with (info / "entry_points.txt").open("a") as fh:
        fh.write("twin = sgt_dup:Good\n")
    pm = build_plugin_manager()
    recs = [r for r in load_report(pm).records if r.dist == "sg-t-dup"]
    assert [r.status for r in recs] == ["registered", "load_failed"]
    assert recs[1].error is not None and "duplicate plugin name" in recs[1].error
    assert names(pm, "sg-t-dup") == ["sg-t-dup:stargraph.triggers:twin"]


def test_same_object_under_two_names_is_isolated(make_dist: MakeDist) -> None:
    hooks = "from stargraph.plugin import hookimpl\n@hookimpl\ndef trigger_routes(): return []\n"
    make_dist(
        "sg-t-twice", {"sgt_twice.py": hooks}, {"stargraph": {"a": "sgt_twice", "b": "sgt_twice"}}
    )
    pm = build_plugin_manager()
    recs = records(pm, "sg-t-twice")
    assert recs["sg-t-twice:stargraph:a"].status == "registered"
    assert recs["sg-t-twice:stargraph:b"].status == "load_failed"
    assert "already registered" in (recs["sg-t-twice:stargraph:b"].error or "")


def test_disabled_plugins_are_not_even_imported(make_dist: MakeDist) -> None:
    make_dist(
        "sg-t-off",
        {"sgt_off_a.py": TRIGGER_SRC, "sgt_off_b.py": TRIGGER_SRC},
        {"stargraph.triggers": {"a": "sgt_off_a:Good", "b": "sgt_off_b:Good"}},
    )
    pm = build_plugin_manager(disable=["sg-t-off:stargraph.triggers:a"])
    recs = records(pm, "sg-t-off")
    assert recs["sg-t-off:stargraph.triggers:a"].status == "disabled"
    assert "sgt_off_a" not in sys.modules
    assert pm.is_blocked("sg-t-off:stargraph.triggers:a")
    assert names(pm, "sg-t-off") == ["sg-t-off:stargraph.triggers:b"]
    whole = build_plugin_manager(disable=["sg-t-off"])
    assert {r.status for r in records(whole, "sg-t-off").values()} == {"disabled"}


def test_factory_returning_plugin_or_metadata(make_dist: MakeDist) -> None:
    src = TRIGGER_SRC + (
        "from stargraph.plugin import PluginMetadata\n"
        "def plain(): return Good()\n"
        "def meta(): return PluginMetadata(name='m', version='2', plugin=Good)\n"
        "def future(): return PluginMetadata(name='f', api_version=2, plugin=Good)\n"
    )
    make_dist(
        "sg-t-fac",
        {"sgt_fac.py": src},
        {
            "stargraph": {
                "stargraph_plugin": "sgt_fac:plain",
                "meta": "sgt_fac:meta",
                "future": "sgt_fac:future",
            }
        },
    )
    pm = build_plugin_manager()
    recs = records(pm, "sg-t-fac")
    assert recs["sg-t-fac:stargraph:stargraph_plugin"].status == "registered"
    assert recs["sg-t-fac:stargraph:stargraph_plugin"].metadata is None
    meta = recs["sg-t-fac:stargraph:meta"]
    assert meta.status == "registered" and isinstance(meta.metadata, PluginMetadata)
    assert type(unwrap(pm.get_plugin(meta.name))).__name__ == "Good"  # class instantiated
    future = recs["sg-t-fac:stargraph:future"]
    assert future.status == "load_failed"
    assert "api_version=2" in (future.error or "") and "api_version=1" in (future.error or "")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("def stargraph_plugin(): return 42", "int object 42 is neither a Trigger"),
        ("def stargraph_plugin(): return None", "NoneType object None is neither a Trigger"),
        ("def stargraph_plugin(): raise OSError('disk')", "OSError: disk"),
        (
            "from stargraph.plugin import PluginMetadata\n"
            "def stargraph_plugin(): return PluginMetadata(name='', plugin=1)",
            "PluginMetadata.name must be a non-empty string",
        ),
    ],
)
def test_factory_returning_junk_is_isolated(make_dist: MakeDist, body: str, expected: str) -> None:
    make_dist(
        "sg-t-junk",
        {"sgt_junk.py": body + "\n"},
        {"stargraph": {"stargraph_plugin": "sgt_junk:stargraph_plugin"}},
    )
    rec = records(build_plugin_manager(), "sg-t-junk")["sg-t-junk:stargraph:stargraph_plugin"]
    assert rec.status == "load_failed"
    assert expected in (rec.error or "")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("X = 1\n", "module 'sgt_bad' is neither a Trigger"),
        (
            "from stargraph.plugin import hookimpl\n@hookimpl\ndef trigger_star(deps): pass\n",
            "unknown hook(s) trigger_star",
        ),
        (
            "from stargraph.plugin import hookimpl\n@hookimpl\ndef trigger_init(config): pass\n",
            "PluginValidationError",
        ),
    ],
)
def test_bad_hook_modules_are_isolated(make_dist: MakeDist, source: str, expected: str) -> None:
    make_dist("sg-t-bad", {"sgt_bad.py": source}, {"stargraph": {"hooks": "sgt_bad"}})
    pm = build_plugin_manager()
    rec = records(pm, "sg-t-bad")["sg-t-bad:stargraph:hooks"]
    assert rec.status == "load_failed" and expected in (rec.error or "")
    assert pm.get_plugin(rec.name) is None
    assert not pm.hook.trigger_init.get_hookimpls() or all(
        i.plugin_name != rec.name for i in pm.hook.trigger_init.get_hookimpls()
    )


# --- STARGRAPH_TRACE_PLUGINS, in a fresh interpreter with no logging configured ---------------


def build_in_subprocess(site: Path, trace: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "STARGRAPH_TRACE_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    if trace is not None:
        env["STARGRAPH_TRACE_PLUGINS"] = trace
    code = "from stargraph.plugin.loader import build_plugin_manager; build_plugin_manager()"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_trace_prints_plugin_events_to_stderr(installed_fixture_dist: Path) -> None:
    proc = build_in_subprocess(installed_fixture_dist, "1")
    lines = proc.stderr.splitlines()
    register = [line for line in lines if " plugin.register " in line]
    assert any(f"name='{FIX}:stargraph.triggers:klass'" in line for line in register)
    assert any(" plugin.discovery.done " in line for line in lines)
    assert proc.stdout == ""


def test_without_trace_loading_is_quiet(installed_fixture_dist: Path) -> None:
    proc = build_in_subprocess(installed_fixture_dist, None)
    assert "plugin.register" not in proc.stderr
    assert "plugin.discovery" not in proc.stderr


@pytest.mark.parametrize(
    ("value", "on"), [("", False), ("0", False), ("off", False), ("1", True), ("yes", True)]
)
def test_trace_variable_values(monkeypatch: pytest.MonkeyPatch, value: str, on: bool) -> None:
    logger = logging.getLogger("stargraph.plugin")
    saved_handlers, saved_level = logger.handlers[:], logger.level
    logger.handlers[:] = []
    logger.setLevel(logging.NOTSET)
    monkeypatch.setenv("STARGRAPH_TRACE_PLUGINS", value)
    try:
        assert enable_trace_from_env() is on
        enable_trace_from_env()
        assert len(logger.handlers) == (1 if on else 0)  # attached once, never twice
        if on:
            assert logger.isEnabledFor(logging.INFO)
        else:
            assert logger.level == logging.NOTSET  # left alone
    finally:
        logger.handlers[:] = saved_handlers
        logger.setLevel(saved_level)


def test_manager_carries_its_load_report(fixture_dist: Path) -> None:
    pm = build_plugin_manager()
    assert isinstance(pm, StargraphPluginManager)
    assert pm.report is not None and load_report(pm) is pm.report
    assert any(r.dist == FIX for r in pm.report.records)
    by_hand = StargraphPluginManager()
    assert by_hand.report is None and load_report(by_hand).records == ()


def test_plugin_load_error_names_the_plugin_and_the_hook() -> None:
    with pytest.raises(PluginLoadError) as info:
        as_plugin(42, "d:stargraph:x")
    assert (info.value.plugin_name, info.value.hook) == ("d:stargraph:x", None)

    class Odd:
        @hookimpl
        def trigger_bogus(self) -> None: ...

    pm = StargraphPluginManager()
    pm.add_hookspecs(hookspecs)
    odd = Odd()
    pm.register(odd, name="d:stargraph:odd")
    with pytest.raises(PluginLoadError) as info:
        reject_unknown_hooks(pm, odd, "d:stargraph:odd")
    assert (info.value.plugin_name, info.value.hook) == ("d:stargraph:odd", "trigger_bogus")
    assert "unknown hook(s) trigger_bogus" in str(info.value)
