"""Embed Stargraph in an existing trio application.

The application owns its nursery. Stargraph's runtime runs as one task in it, beside the
application's own tasks; the HTTP API is optional. Everything stops by cancellation: the
application cancels its task group, and the runtime stops its triggers, drains runs within the
grace period and closes the store on the way out.

    python examples/embed_trio.py                 # runs for 3 seconds, then stops
    python examples/embed_trio.py --serve 8081    # also serves the API on 127.0.0.1:8081
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
import trio
from anyio.abc import TaskStatus

from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, RunContext, SchedulerSettings
from stargraph.serve import attach_runtime, bind_socket, create_app, serve_app


async def greet(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """The application's graph."""
    return {"greeting": f"hello, {params.get('name', 'world')}"}


async def run_stargraph(
    db: Path, port: int | None, *, task_status: TaskStatus[Runtime] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Run the runtime (and optionally its HTTP API) until this task is cancelled."""
    settings = SchedulerSettings(shutdown_grace=2)
    async with Runtime(
        f"sqlite:///{db}", graphs=[Graph(graph_id="greet", fn=greet)], settings=settings
    ) as runtime:
        if port is None:
            task_status.started(runtime)
            await anyio.sleep_forever()
            return
        app = create_app("trio")
        attach_runtime(app, runtime)
        with bind_socket("127.0.0.1", port) as sock:
            async with anyio.create_task_group() as tg:
                host, bound = await tg.start(
                    lambda task_status: serve_app(app, sock=sock, grace=2, task_status=task_status)
                )
                print(f"listening on http://{host}:{bound}", flush=True)
                task_status.started(runtime)


async def heartbeat(beats: list[int]) -> None:
    """One of the application's own tasks."""
    while True:
        beats.append(len(beats))
        await trio.sleep(0.1)  # plain trio code keeps working beside the runtime


async def main(seconds: float, port: int | None) -> None:
    beats: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with trio.open_nursery() as nursery:  # the application's nursery
            nursery.start_soon(heartbeat, beats)
            runtime = await nursery.start(run_stargraph, Path(tmp) / "embed.db", port)
            done = await runtime.scheduler.submit("greet", {"name": "trio"})
            run = await runtime.scheduler.wait_run(done.run_id)
            print(f"run {run.run_id} {run.status}: {run.result}", flush=True)
            await trio.sleep(seconds)
            nursery.cancel_scope.cancel()  # stop everything by cancellation
    print(f"stopped cleanly after {len(beats)} heartbeats", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--serve", type=int, metavar="PORT", help="also serve the HTTP API")
    args = parser.parse_args()
    trio.run(main, args.seconds, args.serve)
    sys.exit(0)
