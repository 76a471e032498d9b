"""The quickstart's graphs: plain functions of ``(params, ctx)`` returning JSON."""

from __future__ import annotations

from typing import Any

import anyio

from stargraph.scheduler import RunContext


async def tick(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Run by the cron trigger: report the planned fire instant."""
    fire = ctx.scheduled_fire.isoformat() if ctx.scheduled_fire else None
    return {"source": params.get("source"), "planned": fire}


async def on_event(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Run by the webhook: the JSON body arrives as params."""
    return {"received": params, "idempotency_key": ctx.idempotency_key}


async def hello(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Run by hand (``stargraph run hello -p name=you``); ``seconds`` makes it take a while."""
    await anyio.sleep(float(params.get("seconds", 0)))
    return {"greeting": f"hello, {params.get('name', 'world')}", "attempt": ctx.attempt}
