"""The shared numeric validators and ``load_object``: one error type, messages naming the field."""

from __future__ import annotations

import math
from typing import Any

import pytest

from stargraph._imports import load_object
from stargraph._validators import InvalidField
from stargraph.errors import ConfigError
from stargraph.hosting import HostOptions
from stargraph.scheduler import RunPolicy, SchedulerSettings


@pytest.mark.parametrize(
    ("cls", "kw", "message"),
    [
        (SchedulerSettings, {"lease_seconds": 0}, "must be a finite number above 0, got 0"),
        (
            SchedulerSettings,
            {"lease_seconds": math.inf},
            "must be a finite number above 0, got inf",
        ),
        (SchedulerSettings, {"lease_seconds": True}, "must be a number, got True"),
        (SchedulerSettings, {"max_concurrent_runs": 0}, "must be at least 1, got 0"),
        (SchedulerSettings, {"batch_size": 2.0}, "must be an integer, got 2.0"),
        (SchedulerSettings, {"shutdown_grace": -1}, "must be a finite number >= 0, got -1"),
        (SchedulerSettings, {"heartbeat_interval": -1}, "must be a finite number above 0, got -1"),
        (RunPolicy, {"max_attempts": 0}, "must be at least 1, got 0"),
        (RunPolicy, {"concurrency": False}, "must be an integer, got False"),
        (RunPolicy, {"timeout": math.nan}, "must be a finite number above 0, got nan"),
        (RunPolicy, {"jitter": -0.5}, "must be a finite number >= 0, got -0.5"),
        (HostOptions, {"stop_timeout": 0}, "must be a finite number above 0, got 0"),
        (HostOptions, {"max_restarts": -1}, "must be at least 0, got -1"),
    ],
)
def test_one_error_type_naming_class_field_and_value(
    cls: type, kw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        cls(**kw)
    exc = info.value
    assert isinstance(exc, InvalidField) and isinstance(exc, ValueError)
    (field,) = kw
    assert (exc.owner, exc.field, exc.reason) == (cls.__name__, field, message)
    assert str(exc) == f"{cls.__name__}.{field} {message}"


def test_optional_fields_accept_none() -> None:
    assert RunPolicy(concurrency=None, timeout=None).timeout is None
    assert SchedulerSettings(heartbeat_interval=None).heartbeat_every == 5.0


def test_load_object_messages_start_with_where() -> None:
    assert load_object("math:pi", "here") == math.pi
    assert load_object("os.path:join.__name__", "here") == "join"
    cases = {
        "nocolon": "here: must look like 'package.module:callable', got 'nocolon'",
        ":f": "here: must look like 'package.module:callable', got ':f'",
        "no_such_module_xyz:f": "here: cannot import module 'no_such_module_xyz' "
        "(ModuleNotFoundError: No module named 'no_such_module_xyz')",
        "math:nope.x": "here: 'math' has no attribute 'nope.x'",
    }
    for target, message in cases.items():
        with pytest.raises(ConfigError) as info:
            load_object(target, "here")
        assert str(info.value) == message


def test_load_object_keeps_the_import_error_as_cause(tmp_path: Any, monkeypatch: Any) -> None:
    (tmp_path / "sg_broken_mod.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        ConfigError, match=r"cannot import module 'sg_broken_mod' \(RuntimeError"
    ) as info:
        load_object("sg_broken_mod:f", "here")
    assert isinstance(info.value.__cause__, RuntimeError)
