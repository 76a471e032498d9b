"""The graphs the browser tests' server runs: one that succeeds, one that fails, one that waits."""

from __future__ import annotations

from typing import Any

import anyio

from stargraph.scheduler import RunContext


async def ok(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Succeed at once, echoing the params."""
    return {"echo": params, "attempt": ctx.attempt}


async def fail(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Fail every attempt with a recognisable error (so the run page has a traceback)."""
    raise ValueError(f"browser-test failure on attempt {ctx.attempt}")


async def slow(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Wait ``seconds`` (default 60): a run that is still running when the test looks."""
    await anyio.sleep(float(params.get("seconds", 60)))
    return {"slept": params.get("seconds", 60)}
