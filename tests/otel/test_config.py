"""``[scheduler] tracing`` in the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from stargraph.config import load_config
from stargraph.errors import ConfigError


def _config(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "stargraph.toml"
    db = tmp_path / "runs.db"
    path.write_text(f'[store]\nurl = "sqlite:///{db}"\n[scheduler]\n{line}\n')
    return path


@pytest.mark.parametrize(("line", "value"), [("", None), ("tracing = true", True),
                                             ("tracing = false", False)])  # fmt: skip
def test_tracing_setting(tmp_path: Path, line: str, value: bool | None) -> None:
    assert load_config(_config(tmp_path, line)).scheduler.tracing is value


def test_a_tracing_value_that_is_not_a_bool_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"scheduler\.tracing: must be true or false"):
        load_config(_config(tmp_path, 'tracing = "yes"'))
