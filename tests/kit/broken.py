"""Deliberately broken triggers: each must fail ``plugins check`` with its own reason."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any, ClassVar, TextIO

import anyio
import sniffio
from quart import Blueprint

from stargraph.errors import StargraphRuntimeError


class _Base:
    """A correct anyio-native trigger: one run per signal, keyed by the signal."""

    key_prefix = "good"

    def init(self, deps: dict[str, Any]) -> None:
        if "scheduler" not in deps:
            raise StargraphRuntimeError(
                f"{type(self).__name__}.init(deps) requires deps['scheduler']"
            )
        self.scheduler = deps["scheduler"]
        self.task_group = deps["task_group"]
        self.signals = deps["signals"]

    def start(self) -> None:
        self.task_group.start_soon(self._loop)

    def stop(self) -> None:
        pass

    def routes(self) -> list[Any]:
        return []

    def key(self, signal: str) -> str:
        return f"{self.key_prefix}:{signal}"

    async def _loop(self) -> None:
        sent: set[str] = set()
        while True:
            for signal in list(self.signals):
                if signal not in sent:
                    sent.add(signal)
                    self.scheduler.enqueue("g", {"signal": signal}, self.key(signal))
            await anyio.sleep(0.02)


class MissingDep(_Base):
    """Reads deps['scheduler'] with a bare subscript: a KeyError traceback."""

    def init(self, deps: dict[str, Any]) -> None:
        self.scheduler = deps["scheduler"]
        self.task_group = deps["task_group"]
        self.signals = deps["signals"]


class LeakingTask(_Base):
    """Starts a task outside deps['task_group'] and never ends it in stop()."""

    def start(self) -> None:
        super().start()
        if sniffio.current_async_library() == "trio":
            import trio

            trio.lowlevel.spawn_system_task(trio.sleep_forever, name="leaked-by-LeakingTask")
        else:
            self.task = asyncio.get_running_loop().create_task(anyio.sleep_forever())


class LeakingThread(_Base):
    """Starts a thread in start() and leaves it running after stop()."""

    releases: list[threading.Event] = []  # the test sets them once it has checked

    def start(self) -> None:
        super().start()
        self.releases.append(release := threading.Event())
        thread = threading.Thread(target=release.wait, name="leaked-by-LeakingThread")
        thread.daemon = True
        thread.start()


class LeakingFile(_Base):
    """Opens a file in start() and never closes it."""

    leaked: ClassVar[list[TextIO]] = []  # the test closes them once it has checked

    def start(self) -> None:
        super().start()
        self.file = Path(tempfile.mkdtemp(), "leaked.log").open("w")  # noqa: SIM115
        self.leaked.append(self.file)


class UnstableKey(_Base):
    """Mints a fresh key for the same signal."""

    def key(self, signal: str) -> str:
        return f"unstable:{signal}:{uuid.uuid4().hex}"


class HangingStop(_Base):
    """stop() never returns."""

    async def stop(self) -> None:
        await anyio.sleep_forever()


class WrongRoutes(_Base):
    """routes() returns a string."""

    def routes(self) -> Any:
        return "/hello"


class ClashingRoutes(_Base):
    """routes() serves GET /healthz, which is Stargraph's own."""

    def routes(self) -> list[Any]:
        bp = Blueprint("clash", __name__)

        @bp.get("/healthz")
        async def healthz() -> str:
            return "mine"

        return [bp]


class Good(_Base):
    """Nothing wrong."""

    def init(self, deps: dict[str, Any]) -> None:
        LeakingTask.init(self, deps)  # type: ignore[arg-type]


class AsyncioOnly(_Base):
    """The seed's form: an asyncio task made in start(), cancelled in stop()."""

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop())

    def stop(self) -> None:
        self.task.cancel()
