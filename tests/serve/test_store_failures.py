"""A store that cannot commit: ``503`` with ``Retry-After`` and no path (issue 11, defect 7),
``/readyz`` not ready with a reason (defect 9), and recovery without a restart.

The store is a real SQLite file on a real, tiny tmpfs that is then filled to the last byte (the
tests run as root, so ``chmod`` cannot make a file unwritable; a full file system is what an
operator meets, and SQLite answers it with ``SQLITE_FULL`` on the next commit that needs a new
page). Skipped where ``mount`` is not allowed. PostgreSQL: connections terminated with
``pg_terminate_backend`` under load never yield a 400 or a 500, and never name the server.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import anyio
import httpx
import pytest
from test_api import GRAPHS, TOKEN

from stargraph.runtime import Runtime
from stargraph.serve import _ready, attach_runtime, bind_socket, create_app, serve_app

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for this test only."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Fill *disk* to the last byte with one file; return it (delete it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                continue
    finally:
        os.close(fd)
    return filler


@asynccontextmanager
async def live(app: object) -> AsyncIterator[str]:
    with bind_socket("127.0.0.1", 0) as sock:
        async with anyio.create_task_group() as tg:
            host, port = await tg.start(partial(serve_app, app, sock=sock, grace=2))
            yield f"http://{host}:{port}"
            tg.cancel_scope.cancel()


async def test_full_disk_is_503_without_path_and_not_ready(
    anyio_backend: str, tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ready, "RECENT_FAILURE", 1.0)
    db = tiny_disk / "store.db"
    async with Runtime(f"sqlite:///{db}", graphs=GRAPHS) as runtime:
        app = create_app(anyio_backend, api_token=TOKEN)
        attach_runtime(app, runtime)
        async with (
            live(app) as url,
            httpx.AsyncClient(base_url=url, headers=AUTH, timeout=15) as client,
        ):
            assert (await client.get("/readyz")).status_code == 200
            filler = fill(tiny_disk)
            await anyio.sleep(_ready.PROBE_EVERY)  # past the cached probe
            body = {"graph_id": "ok", "idempotency_key": "k-1", "params": {"x": "y" * 8000}}
            refused = await client.post("/v1/runs", json=body)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "unavailable"
            assert refused.headers["Retry-After"] == "5"
            assert str(tiny_disk) not in refused.text and "store.db" not in refused.text
            assert "idempotency_key" in refused.json()["error"]["message"]
            ready = await client.get("/readyz")
            assert ready.status_code == 503, ready.text
            assert ready.json()["error"]["code"] in {"store_not_writable", "store_failing"}
            assert str(tiny_disk) not in ready.text
            filler.unlink()  # space again: recovery without a restart
            with anyio.fail_after(10):
                while (await client.get("/readyz")).status_code != 200:
                    await anyio.sleep(0.2)
            again = await client.post("/v1/runs", json=body)
            assert again.status_code == 202, again.text
            assert (await client.get("/v1/runs")).json()["items"][0]["idempotency_key"] == ("k-1")


async def test_readyz_probe_alone_sees_a_full_disk(anyio_backend: str, tiny_disk: Path) -> None:
    """No request failed first: the write probe itself finds that nothing commits."""
    db = tiny_disk / "store.db"
    async with Runtime(f"sqlite:///{db}", graphs=GRAPHS) as runtime:
        app = create_app(anyio_backend)
        attach_runtime(app, runtime)
        client = app.test_client()
        assert (await client.get("/readyz")).status_code == 200
        filler = fill(tiny_disk)
        await anyio.sleep(_ready.PROBE_EVERY)
        ready = await client.get("/readyz")
        body = await ready.get_json()
        assert ready.status_code == 503 and body["error"]["code"] == "store_not_writable"
        assert str(tiny_disk) not in json_text(body)
        filler.unlink()


def json_text(body: object) -> str:
    import json

    return json.dumps(body)


@pytest.mark.postgres
async def test_terminated_postgres_connections_are_503_never_400(
    anyio_backend: str, postgres_url: str
) -> None:
    """Connections killed with pg_terminate_backend while runs are posted: 202 or 503 only."""
    import psycopg

    name = f"sg-api-{uuid.uuid4().hex[:8]}"
    url = postgres_url + ("&" if "?" in postgres_url else "?") + f"application_name={name}"
    codes: list[int] = []
    async with Runtime(url, graphs=GRAPHS) as runtime:
        app = create_app(anyio_backend, api_token=TOKEN)
        attach_runtime(app, runtime)
        async with (
            live(app) as base,
            httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client,
        ):

            async def post(i: int) -> None:
                body = {"graph_id": "ok", "params": {"i": i}, "idempotency_key": f"k-{i}"}
                while True:  # a 503 is retried with the same key, as docs/api.md says
                    r = await client.post("/v1/runs", json=body)
                    codes.append(r.status_code)
                    assert r.status_code in (202, 503), r.text
                    if r.status_code == 503:  # (a 202's random run id may contain "5432")
                        message = r.json()["error"]["message"]
                        assert "5432" not in message and "127.0.0.1" not in message, message
                    if r.status_code == 202:
                        return

            def kill() -> None:
                with psycopg.connect(postgres_url, autocommit=True) as conn:
                    conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = %s",
                        (name,),
                    )

            for round_ in range(5):
                async with anyio.create_task_group() as tg:
                    for i in range(20):
                        tg.start_soon(post, round_ * 20 + i)
                    tg.start_soon(anyio.to_thread.run_sync, kill)
            # The last kill can land after the last post, on idle pooled connections: the
            # read that meets one is a 503 too, retried like the posts.
            with anyio.fail_after(30):
                while (listed := await client.get("/v1/runs?limit=1000")).status_code == 503:
                    assert "5432" not in listed.text and "127.0.0.1" not in listed.text
                    await anyio.sleep(0.1)
            assert listed.status_code == 200, listed.text
            keys = [run["idempotency_key"] for run in listed.json()["items"]]
            assert sorted(keys) == sorted(f"k-{i}" for i in range(100))  # once each
    print("codes:", {c: codes.count(c) for c in set(codes)})
    assert codes and set(codes) <= {202, 503}
    assert os.environ.get("PGPASSWORD", "\0") not in repr(codes)
