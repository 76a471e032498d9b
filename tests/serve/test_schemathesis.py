"""Schemathesis (``--checks all``) against the live server proves ``/openapi.json`` exact.

A real Runtime (SQLite file) behind a real Hypercorn on loopback, on each backend, with and
without an API token; the schemathesis CLI (a client we did not write) reads the document from
the server and fuzzes every operation with a bounded number of examples. Zero failures.

Three narrowings, in ``schemathesis.toml`` below, each because the check cannot be meaningful:

- ``GET /v1/runs`` with a ``cursor`` that matches the documented pattern but was not issued by
  a store is ``400 bad_cursor``: the cursor is opaque, so no schema can tell a valid one from a
  well-formed forgery; the positive-data check is told that 400 is expected there.
- the webhook route may answer its documented ``503 trigger_paused``: the fuzzer itself pauses
  the trigger through ``POST /v1/triggers/{trigger_id}/pause``, and a paused webhook tells its
  sender to retry later; ``not_a_server_error`` is told that this 503 is expected there.
- ``POST /v1/triggers/{trigger_id}/backfill`` refuses a ``from`` after its ``to``, or a range of
  more than 10,000 fires, with its documented ``422`` (and a trigger with no planned fires with
  ``409``): a JSON schema cannot relate two fields or count fires, so the positive-data check is
  told those statuses are expected there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import anyio
import pytest
from test_api import GRAPHS, TOKEN, runtime_deps

from stargraph.runtime import Runtime
from stargraph.serve import attach_runtime, bind_socket, create_app, serve_app

pytestmark = pytest.mark.slow

MAX_EXAMPLES = os.environ.get("STARGRAPH_SCHEMATHESIS_EXAMPLES", "10")
# A fixed default seed keeps CI deterministic; set STARGRAPH_SCHEMATHESIS_SEED to explore (some
# seeds find schema-valid params holding a NUL, refused with 422: see the issue notes).
SEED = os.environ.get("STARGRAPH_SCHEMATHESIS_SEED", "1")
CONFIG = """
[[operations]]
include-path = "/v1/runs"
include-method = "GET"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "404", "5xx"]

[[operations]]
include-path-regex = "/backfill$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "404", "409", "422", "5xx"]

[[operations]]
include-path-regex = "^/hooks/"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]
"""
BIN = Path(sys.executable).parent
PHASES = {True: "examples,coverage,fuzzing", False: "fuzzing"}
"""With a token, every phase; without one the coverage phase's boundary cases would only
repeat (minus the 401s), so the open server gets the fuzzing phase alone (time budget)."""


@pytest.fixture
async def live(anyio_backend: str, tmp_path: Path, request: pytest.FixtureRequest
               ) -> AsyncIterator[tuple[str, str | None]]:  # fmt: skip
    token: str | None = request.param
    async with Runtime(
        f"sqlite:///{tmp_path / 'fuzz.db'}", graphs=GRAPHS, deps=runtime_deps()
    ) as runtime:
        app = create_app(anyio_backend, api_token=token)
        attach_runtime(app, runtime)
        with bind_socket("127.0.0.1", 0) as sock:
            async with anyio.create_task_group() as tg:
                host, port = await tg.start(partial(serve_app, app, sock=sock, grace=2))
                yield f"http://{host}:{port}", token
                tg.cancel_scope.cancel()


@pytest.mark.parametrize("live", [TOKEN, None], indirect=True, ids=["token", "open"])
async def test_schemathesis_all_checks_pass(live: tuple[str, str | None], tmp_path: Path) -> None:
    url, token = live
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    argv = [
        str(BIN / "schemathesis"), "--no-color", "--config-file", "schemathesis.toml", "run",
        f"{url}/openapi.json", "--checks", "all", "--max-examples", MAX_EXAMPLES,
        "--seed", SEED, "--workers", "1", "--request-timeout", "10", "--no-shrink",
        "--phases", PHASES[token is not None], "--warnings", "off",
    ]  # fmt: skip
    if token:
        argv += ["--header", f"Authorization: Bearer {token}"]
    started = time.monotonic()
    done = await anyio.to_thread.run_sync(
        partial(subprocess.run, argv, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    )
    took = time.monotonic() - started
    out = done.stdout + done.stderr
    print(f"schemathesis seed={SEED} took {took:.1f} s\n{out[-3000:]}")
    assert done.returncode == 0, f"schemathesis failed (seed {SEED}):\n{out[-20000:]}"
    assert " passed" in out and "0 failures" not in out.replace("No failures", "")
