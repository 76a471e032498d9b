"""What ``stargraph`` prints for an error it did not expect, and the stdlib HTTP client."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from stargraph import cli
from stargraph._log import JsonEventFormatter, configure_logging, log_event
from stargraph.cli import main
from stargraph.cli._failure import describe_failure
from stargraph.cli._http import request
from stargraph.errors import ConfigError, StargraphRuntimeError


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            ModuleNotFoundError("No module named 'psycopg'", name="psycopg"),
            "missing module 'psycopg' (No module named 'psycopg'): "
            "pip install 'stargraph[postgres]'",
        ),
        (
            ModuleNotFoundError("No module named 'quart_trio.app'", name="quart_trio.app"),
            "missing module 'quart_trio.app' (No module named 'quart_trio.app'): "
            "pip install quart-trio",
        ),
        (
            ImportError("cannot import name 'expand' from 'croniter'", name="croniter"),
            "cannot import name 'expand' from 'croniter' (a version mismatch?): "
            "pip install --upgrade croniter",
        ),
        (ConfigError("bad.toml: x: wrong"), "bad.toml: x: wrong"),
        (
            KeyError("k"),
            "unexpected KeyError: 'k' (rerun with --log-level debug for the traceback)",
        ),
    ],
)
def test_describe_failure(exc: BaseException, expected: str) -> None:
    assert describe_failure(exc) == expected


def test_a_missing_module_names_the_install_not_the_debug_flag(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def dispatch(args: Any) -> int:
        raise ExceptionGroup(
            "x", [ModuleNotFoundError("No module named 'psycopg_pool'", name="psycopg_pool")]
        )

    monkeypatch.setattr(cli, "_dispatch", dispatch)
    assert main(["cron", "next", "@daily"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'stargraph[postgres]'" in err and "--log-level debug" not in err


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        seen = {
            "method": self.command,
            "path": self.path,
            "auth": self.headers.get("Authorization"),
            "type": self.headers.get("Content-Type"),
            "body": self.rfile.read(length).decode() if length else None,
        }
        status = 404 if self.path.startswith("/missing") else 200
        data = json.dumps(seen).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_http_client_get_post_and_error_statuses(echo_url: str) -> None:
    got = request("GET", f"{echo_url}/v1/x?a=1", headers={"Authorization": "Bearer t"})
    assert got.status == 200
    assert got.json() == {
        "method": "GET",
        "path": "/v1/x?a=1",
        "auth": "Bearer t",
        "type": None,
        "body": None,
    }
    posted = request("POST", f"{echo_url}/v1/y", json_body={"k": 1})
    assert posted.json()["body"] == '{"k": 1}' and posted.json()["type"] == "application/json"
    missing = request("GET", f"{echo_url}/missing")
    assert missing.status == 404 and missing.json()["path"] == "/missing"


def test_http_client_without_a_server() -> None:
    with pytest.raises(
        StargraphRuntimeError, match=r"^no Stargraph server answers at http://127\.0\.0\.1:1 \("
    ):
        request("GET", "http://127.0.0.1:1/v1/triggers", timeout=2)


def test_json_lines_have_iso_utc_timestamps(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    log_event(logging.getLogger("stargraph.test"), "test.event", value=0.5)
    logging.getLogger("hypercorn.error").info("Running on %s", "somewhere")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert first["event"] == "test.event" and first["value"] == 0.5
    assert second["event"] == "hypercorn.error" and second["message"] == "Running on somewhere"
    record = logging.LogRecord("x", logging.INFO, "f", 1, "m", None, None)
    record.created = 0.0015
    assert json.loads(JsonEventFormatter().format(record))["ts"] == "1970-01-01T00:00:00.001Z"
