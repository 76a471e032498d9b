"""Deliberately broken triggers: each must fail ``plugins check`` with its own reason."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import anyio
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
    """Starts an asyncio task (or a trio-incompatible one) and never cancels it in stop()."""

    def start(self) -> None:
        super().start()
        self.task = asyncio.get_running_loop().create_task(anyio.sleep_forever())


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
