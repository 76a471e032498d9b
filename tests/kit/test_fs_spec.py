"""``[[fs]]``: read by ``FsSpec.from_table`` next to the spec; errors name file, key, reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from stargraph.config import load_config
from stargraph.errors import ConfigError
from stargraph.triggers.fs import FsSpec, parse_duration

TABLE = """\
[graphs.ingest]
target = "graphs:ingest"

[[fs]]
trigger_id = "fs:inbox"
path = "/data/inbox"
pattern = "*.csv"
graph_id = "ingest"
settle = "1s"
on = ["added", "modified"]
{extra}
"""


def load(tmp_path: Path, extra: str = "") -> FsSpec:
    config = tmp_path / "stargraph.toml"
    config.write_text(TABLE.format(extra=extra))
    [spec] = load_config(config).fs
    return spec


def test_the_issue_table_and_its_defaults(tmp_path: Path) -> None:
    spec = load(tmp_path)
    assert spec == FsSpec(
        trigger_id="fs:inbox",
        path="/data/inbox",
        pattern="*.csv",
        graph_id="ingest",
        settle=1.0,
        on=("added", "modified"),
        initial="fire",
    )
    cfg = load_config(tmp_path / "stargraph.toml")
    assert cfg.runtime_deps()["fs_specs"] == [spec]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('initial = "later"', "fs[0].initial: must be one of fire, skip, got 'later'"),
        ("colour = 1", "fs[0].colour: unknown key"),
        ('params = { a = 1 }\nsettle2 = "x"', "fs[0].settle2: unknown key"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, extra)
    assert message in str(info.value)
    assert str(tmp_path / "stargraph.toml") in str(info.value)


def test_bad_settle_and_on(tmp_path: Path) -> None:
    config = tmp_path / "stargraph.toml"
    config.write_text(TABLE.format(extra="").replace('"1s"', '"soon"'))
    with pytest.raises(ConfigError, match=r"fs\[0\]\.settle: expected a duration such as '1s'"):
        load_config(config)
    config.write_text(TABLE.format(extra="").replace('"modified"', '"renamed"'))
    with pytest.raises(ConfigError, match=r"fs\[0\]\.on: 'renamed' is not one of added"):
        load_config(config)


def test_unknown_graph_and_duplicate_trigger_id(tmp_path: Path) -> None:
    config = tmp_path / "stargraph.toml"
    text = (
        TABLE.format(extra="")
        + '\n[[cron]]\ntrigger_id = "fs:inbox"\nschedule = "* * * * *"\ngraph_id = "ingest"\n'
    )
    config.write_text(text)
    with pytest.raises(ConfigError, match="duplicate value 'fs:inbox'"):
        load_config(config)
    config.write_text(TABLE.format(extra="").replace('graph_id = "ingest"', 'graph_id = "nope"'))
    with pytest.raises(ConfigError, match=r"fs\[0\]\.graph_id: unknown graph 'nope'"):
        load_config(config).check_trigger_graphs(["ingest"])


@pytest.mark.parametrize(
    ("text", "seconds"), [("250ms", 0.25), ("1s", 1.0), ("2m", 120.0), ("1h", 3600.0), (3, 3.0)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text, "settle") == seconds


def test_spec_validates_when_built() -> None:
    with pytest.raises(ConfigError, match="fs trigger 'x': on must list one or more of"):
        FsSpec(trigger_id="x", path="/p", graph_id="g", on=())
    with pytest.raises(ConfigError, match="fs trigger 'x': initial must be 'fire' or 'skip'"):
        FsSpec(trigger_id="x", path="/p", graph_id="g", initial="now")
