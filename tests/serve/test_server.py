"""serve_app: real Hypercorn on a loopback port, stopped by an event or by cancellation."""

from __future__ import annotations

import socket

import anyio
import httpx
import pytest
import sniffio

from stargraph.errors import ConfigError
from stargraph.serve import bind_socket, create_app, serve_app
from stargraph.serve.server import check_bind


def _app_with_lifespan_log() -> tuple[object, list[str]]:
    app = create_app(sniffio.current_async_library())
    log: list[str] = []

    @app.before_serving
    async def _up() -> None:
        log.append("startup")

    @app.after_serving
    async def _down() -> None:
        log.append("shutdown")

    return app, log


def _port_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def test_stop_event_shuts_down_gracefully() -> None:
    app, log = _app_with_lifespan_log()
    stop = anyio.Event()
    with bind_socket("127.0.0.1", 0) as sock, anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            host, port = await tg.start(
                lambda task_status: serve_app(
                    app, sock=sock, stop=stop, grace=2, task_status=task_status
                )
            )
            async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
                assert (await client.get("/healthz")).json() == {"status": "ok"}
            stop.set()
    assert log == ["startup", "shutdown"]
    assert _port_closed(port)


async def test_cancellation_shuts_down_gracefully() -> None:
    app, log = _app_with_lifespan_log()
    with bind_socket("127.0.0.1", 0) as sock, anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            _, port = await tg.start(
                lambda task_status: serve_app(app, sock=sock, grace=2, task_status=task_status)
            )
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                assert (await client.get("/healthz")).status_code == 200
            tg.cancel_scope.cancel()
    assert log == ["startup", "shutdown"]
    assert _port_closed(port)


def test_bind_conflict_is_a_config_error() -> None:
    with bind_socket("127.0.0.1", 0) as sock:
        port = sock.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind_socket("127.0.0.1", port).close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.5"])
def test_loopback_bind_needs_no_token(host: str) -> None:
    check_bind(host, None, insecure=False)


def test_public_bind_needs_token_or_insecure() -> None:
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0 without an API token"):
        check_bind("0.0.0.0", None, insecure=False)
    check_bind("0.0.0.0", "tok", insecure=False)
    check_bind("0.0.0.0", None, insecure=True)
