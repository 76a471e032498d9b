"""HTTP/1.1 connection handling at the socket level, on both backends and both serve paths.

Raw sockets against a real Hypercorn on loopback: ``serve_app`` in-process (the
``stargraph serve`` path) and ``hypercorn stargraph.serve.asgi:app -k asyncio|trio`` as a
process. Each check failed on trio before Stargraph's Hypercorn trio fixes and body draining
(HTTP/1.0 and ``Connection: close`` never closed; a keep-alive connection went dead after an
early response; a burst of 2,000 connections left hundreds unanswered).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
import sniffio
from serve_procs import BIN, Proc, free_port

from stargraph.config import load_config
from stargraph.runtime import Runtime
from stargraph.serve import attach_runtime, bind_socket, create_app, serve_app
from stargraph.serve._drain import DRAIN_LIMIT

TOKEN = "socket-token"
GRAPHS = "async def echo(params, ctx):\n    return params\n"
CONFIG = """
[store]
url = "sqlite:///{db}"
[serve]
graceful_timeout = 1
api_token_env = "SOCK_TEST_TOKEN"
[graphs.echo]
target = "sock_graphs:echo"
[[webhook]]
trigger_id = "webhook:sock"
path = "/hooks/sock"
graph_id = "echo"
scheme = "standard-webhooks"
secret_env = "SOCK_HOOK_SECRET"
max_body_bytes = 1000
"""
ENV = {
    "SOCK_TEST_TOKEN": TOKEN,
    "SOCK_HOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}
WAIT = 5.0  # seconds a client waits for an answer or an EOF
BODY = 200_000  # several 64 KiB reads, well under the drain limit


def _project(folder: Path) -> Path:
    (folder / "sock_graphs.py").write_text(GRAPHS)
    config = folder / "stargraph.toml"
    config.write_text(textwrap.dedent(CONFIG.format(db=folder / "sock.db")))
    return config


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.settimeout(WAIT)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one response with a Content-Length body; fail on EOF or timeout."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"EOF before a complete response head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, "EOF inside a response body"
        body += chunk
    return int(status_line.split()[1]), headers, body


def _assert_eof(sock: socket.socket) -> None:
    try:
        assert sock.recv(1) == b"", "data after the response instead of EOF"
    except TimeoutError:
        pytest.fail(f"the server did not close the connection within {WAIT} s")


def check_http10(port: int) -> None:
    """An HTTP/1.0 request: the server answers, then closes (recv returns b"")."""
    with _connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        assert _read_response(sock)[0] == 200
        _assert_eof(sock)


def check_connection_close(port: int) -> None:
    """``Connection: close``: the server answers, then closes."""
    with _connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert _read_response(sock)[0] == 200
        _assert_eof(sock)


def _early(method: str, path: str, status: int, length: int = BODY) -> Callable[[int], None]:
    def check(port: int) -> None:
        """Answered before the body is read; the body follows; the connection stays usable."""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n"
        )
        with _connect(port) as sock:
            sock.sendall(head.encode())
            assert _read_response(sock)[0] == status
            sock.sendall(b"x" * length)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            try:
                assert _read_response(sock)[:1] == (200,)
            except TimeoutError:
                pytest.fail(f"no answer on the reused connection within {WAIT} s")

    return check


def check_huge_413_closes(port: int) -> None:
    """A body announced over the drain limit: 413 with ``Connection: close``, then EOF."""
    head = f"POST /hooks/sock HTTP/1.1\r\nHost: t\r\nContent-Length: {2 * DRAIN_LIMIT}\r\n\r\n"
    with _connect(port) as sock:
        sock.sendall(head.encode())
        status, headers, _ = _read_response(sock)
        assert (status, headers.get("connection", "").lower()) == (413, "close")
        _assert_eof(sock)


CHECKS: dict[str, Callable[[int], None]] = {
    "http10": check_http10,
    "connection-close": check_connection_close,
    "early-401": _early("POST", "/v1/runs", 401),
    "early-404": _early("POST", "/no/such/route", 404),
    "early-405": _early("PUT", "/healthz", 405),
    "early-413": _early("POST", "/hooks/sock", 413),
    "huge-413": check_huge_413_closes,
}


STORM_CLIENT = Path(__file__).with_name("_storm_client.py")


def check_storm(port: int, connections: int = 2000, deadline: float = 30.0) -> None:
    """*connections* connected at once, one request each: all answered within *deadline*.

    The client runs as its own process, so it never competes with the server for the GIL.
    """
    start = time.monotonic()
    argv = [sys.executable, str(STORM_CLIENT), str(port), str(connections), str(deadline)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=deadline + 30, check=True)
    answered, failed, pending = (int(n) for n in out.stdout.split())
    took = time.monotonic() - start
    assert answered == connections, (
        f"{answered}/{connections} answered in {took:.1f} s ({failed} failed, {pending} pending)"
    )


# -- in-process: serve_app, as ``stargraph serve`` runs it ------------------------------------


@asynccontextmanager
async def _in_process(folder: Path) -> AsyncIterator[int]:
    cfg = load_config(str(_project(folder)))
    async with Runtime.from_config(cfg) as runtime, anyio.create_task_group() as tg:
        app = create_app(sniffio.current_async_library(), api_token=cfg.serve.api_token)
        attach_runtime(app, runtime)
        with bind_socket("127.0.0.1", 0) as sock:
            _, port = await tg.start(
                lambda task_status: serve_app(app, sock=sock, grace=1, task_status=task_status)
            )
            yield port
            tg.cancel_scope.cancel()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "sock_graphs", raising=False)


@pytest.mark.parametrize("check", list(CHECKS))
async def test_in_process(check: str, env: None, tmp_path: Path) -> None:
    with anyio.fail_after(30):
        async with _in_process(tmp_path) as port:
            await anyio.to_thread.run_sync(CHECKS[check], port)


@pytest.mark.slow
async def test_in_process_storm(env: None, tmp_path: Path) -> None:
    with anyio.fail_after(60):
        async with _in_process(tmp_path) as port:
            await anyio.to_thread.run_sync(check_storm, port)


# -- ``hypercorn stargraph.serve.asgi:app -k asyncio|trio`` as a process -----------------------


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], int]]:
    """Start (once per module and worker) a Hypercorn process; return its port."""
    running: dict[str, tuple[Proc, int]] = {}

    def get(worker: str) -> int:
        if worker not in running:
            folder = tmp_path_factory.mktemp(f"cli-{worker}")
            config = _project(folder)
            port = free_port()
            argv = [
                str(BIN / "hypercorn"),
                "stargraph.serve.asgi:app",
                "-k",
                worker,
                "--bind",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "1",
                "--backlog",
                "2048",
            ]  # fmt: skip  (as docs/deploy.md advises)
            proc = Proc(argv, cwd=folder, env={**ENV, "STARGRAPH_CONFIG": str(config)})
            running[worker] = (proc, port)
            proc.wait_ready(f"http://127.0.0.1:{port}")
        return running[worker][1]

    yield get
    for proc, _ in running.values():
        assert proc.terminate() == 0, proc.output()
        proc.close()


@pytest.mark.parametrize("worker", ["asyncio", "trio"])
@pytest.mark.parametrize("check", list(CHECKS))
def test_hypercorn_cli(check: str, worker: str, cli_server: Callable[[str], int]) -> None:
    CHECKS[check](cli_server(worker))


@pytest.mark.slow
@pytest.mark.parametrize("worker", ["asyncio", "trio"])
def test_hypercorn_cli_storm(worker: str, cli_server: Callable[[str], int]) -> None:
    check_storm(cli_server(worker))


def test_trio_fixes_installed_for_the_tested_hypercorn() -> None:
    """The pinned Hypercorn gets the fixes; an untested version is refused with a warning."""
    import importlib.metadata

    from stargraph.serve import _hypercorn_trio

    version = importlib.metadata.version("hypercorn")
    assert ".".join(version.split(".")[:2]) in _hypercorn_trio.TESTED_VERSIONS, version
    assert _hypercorn_trio.install() and _hypercorn_trio.installed()


def test_untested_hypercorn_is_refused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from stargraph.serve import _hypercorn_trio

    monkeypatch.setitem(_hypercorn_trio._state, "installed", False)
    monkeypatch.setattr(_hypercorn_trio, "_version", lambda: "0.99.0")
    assert _hypercorn_trio.install() is False
    assert "serve.hypercorn_trio.untested" in caplog.text
    assert "0.99.0" in str([getattr(r, "stargraph", {}) for r in caplog.records])
