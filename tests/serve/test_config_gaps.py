"""Issue 11, defect 13: configuration the server accepted and then misbehaved with, and
errors that named neither the file nor the key."""

from __future__ import annotations

import io
import json
import logging
import textwrap
from pathlib import Path

import pytest

from stargraph._log import configure_logging
from stargraph.config import load_config
from stargraph.errors import ConfigError
from stargraph.scheduler import SchedulerSettings
from stargraph.serve.server import check_bind
from stargraph.triggers.webhook import WebhookSpec


def _error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    path = tmp_path / "stargraph.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    message = str(info.value)
    assert message.startswith(f"{path}: "), message  # the file
    return message


HOOK = "[[webhook]]\ntrigger_id='w'\ngraph_id='g'\nsecret_env='HOOK_SECRET'\npath='{}'\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[scheduler]\nmax_concurrent_runs = 300000",
            "scheduler.max_concurrent_runs: must be at most 10000 (one node cannot start and stop",
        ),
        ("[scheduler]\npoll_interval = 1e-9", "scheduler.poll_interval: must be at least 0.01 ("),
        ("[store]\nurl = 'sqlite:///no/such/folder/x.db'", "store.url: the folder '"),
        ("[store]\nurl = 'sqlite:///x.db?synchronous=sometimes'", "store.url: Invalid synchronous"),
        ("[deps]\nscheduler = 'mine'", "deps.scheduler: is reserved for the runtime"),
        (HOOK.format("/v1/runs"), "webhook[0].path: '/v1/runs' is a route of the HTTP API"),
        (HOOK.format("/v1/triggers/x/pause"), "webhook[0].path: '/v1/triggers/x/pause' is a"),
        (HOOK.format("/metrics"), "webhook[0].path: '/metrics' is a route of the HTTP API"),
    ],
)
def test_config_gaps_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(tmp_path, text, {"HOOK_SECRET": "s3cret"})


def test_a_webhook_path_beside_the_api_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "stargraph.toml"
    path.write_text(HOOK.format("/v1/hooks/w"), encoding="utf-8")
    assert load_config(path, env={"HOOK_SECRET": "s"}).webhook[0].path == "/v1/hooks/w"


def test_bounds_hold_in_python_too() -> None:
    with pytest.raises(ConfigError, match="max_concurrent_runs must be at most 10000"):
        SchedulerSettings(max_concurrent_runs=300_000)
    with pytest.raises(ConfigError, match=r"poll_interval must be at least 0\.01"):
        SchedulerSettings(poll_interval=1e-9)
    assert SchedulerSettings(max_concurrent_runs=10_000, poll_interval=0.01)
    with pytest.raises(ConfigError, match="is a route of the HTTP API"):
        WebhookSpec(trigger_id="w", path="/readyz", graph_id="g", secrets=("s",))


@pytest.mark.parametrize("token", ["   ", "\t\n"])
def test_whitespace_token_does_not_pass_the_bind_guard(tmp_path: Path, token: str) -> None:
    message = _error(tmp_path, "[serve]\nbind = '0.0.0.0:8080'\n", {"STARGRAPH_API_TOKEN": token})
    assert "serve.api_token_env: environment variable STARGRAPH_API_TOKEN holds only" in message
    with pytest.raises(ConfigError):  # and the guard itself refuses it on a public bind
        check_bind("0.0.0.0", token, False)


def test_token_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "stargraph.toml"
    path.write_text("", encoding="utf-8")
    cfg = load_config(path, env={"STARGRAPH_API_TOKEN": " tok-123\n"})
    assert cfg.serve.api_token == "tok-123"


def test_psycopg_pool_lines_are_json(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("stargraph", "psycopg", "hypercorn.error", "hypercorn.access"):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "handlers", logger.handlers[:])
        monkeypatch.setattr(logger, "filters", logger.filters[:])
        monkeypatch.setattr(logger, "propagate", logger.propagate)
        monkeypatch.setattr(logger, "level", logger.level)
    configure_logging("info", "json")
    stream = io.StringIO()
    handler = logging.getLogger("psycopg").handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    monkeypatch.setattr(handler, "stream", stream)
    logging.getLogger("psycopg.pool").warning("discarding closed connection: %s", "<conn>")
    logging.getLogger("psycopg.pool").info("per-connection chatter")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    line = json.loads(lines[0])
    assert line["logger"] == "psycopg.pool" and line["level"] == "warning"
    assert line["message"] == "discarding closed connection: <conn>"
