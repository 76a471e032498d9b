"""Every bundled trigger passes ``plugins check`` (through its entry point), on both backends.

interval trigger: add a line to ``CASES`` with its deps and a signal hook. The queue triggers run
against the real local brokers (tests/queues/brokers.py), each test on a fresh source.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from queues.brokers import BROKERS, URLS, body, reachable

from stargraph.plugin.check import SignalContext, Status, check_trigger, resolve
from stargraph.testing import ManualClock
from stargraph.triggers.cron import CronSpec
from stargraph.triggers.fs import FsSpec
from stargraph.triggers.queue import QueueSpec, QueueTrigger
from stargraph.triggers.webhook import WebhookSpec, sign

T0 = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
SECRET = "whsec_" + "k" * 32


def manual_signal(ctx: SignalContext) -> None:
    ctx.trigger.enqueue("g", {"n": 1}, idempotency_key="manual-check-1")  # type: ignore[attr-defined]


def cron_signal(ctx: SignalContext) -> None:
    clock = ctx.harness.clock
    assert isinstance(clock, ManualClock)
    clock.set(T0 + timedelta(seconds=61))  # one planned fire (12:01) in both rounds


async def webhook_signal(ctx: SignalContext) -> None:
    body = json.dumps({"event": "push"}).encode()
    stamp = int(time.time()) - 10 + ctx.round  # round 2 is a re-delivery: new timestamp, same id
    headers = sign("standard-webhooks", SECRET, body, timestamp=stamp, msg_id="msg-1")
    client = (await ctx.harness.app()).test_client()
    response = await client.post("/hooks/check", data=body, headers=headers)
    assert response.status_code == 202, await response.get_data()


def fs_signal(ctx: SignalContext) -> None:
    for n in range(3):
        (ctx.workdir / f"f{n}.csv").write_text(f"row {n}")


#: broker helpers opened by the queue cases of the running test (closed by ``_close_brokers``).
_OPEN: list[Any] = []


def queue_case(kind: str) -> tuple[dict[str, Any], Callable[..., Any], None]:
    """A fresh source on the local *kind* broker, and a hook publishing 3 fixed message ids."""
    reason = reachable(kind)
    if reason:
        pytest.skip(reason)
    broker = BROKERS[kind]()
    _OPEN.append(broker)
    if kind == "redis-stream":
        broker.r.ping()  # open its socket now, not during the check (a "leaked" file)
    spec = QueueSpec(
        trigger_id=f"queue:{broker.source}",
        kind=kind,
        url=URLS[kind],
        source=broker.source,
        graph_id="g",
        redeliver_seconds=2,
    )

    async def signal(ctx: SignalContext) -> None:
        await _connected(ctx.trigger)  # MQTT drops what is published before it subscribed
        await anyio.to_thread.run_sync(publish)

    def publish() -> None:  # the same ids in both rounds: round 2 must make no new run
        for n in range(3):
            broker.publish(body(n=n), message_id=f"m-{n}")

    return {"queue_specs": [spec]}, signal, None


async def _connected(trigger: object, timeout: float = 20) -> None:
    assert isinstance(trigger, QueueTrigger)
    with anyio.fail_after(timeout):
        while not all(i.details["connected"] for i in await trigger.describe()):
            await anyio.sleep(0.05)


@pytest.fixture(autouse=True)
def _close_brokers() -> Any:
    yield
    while _OPEN:
        _OPEN.pop().close()


CRON = CronSpec(trigger_id="cron:check", schedule="* * * * *", graph_id="g")
HOOK = WebhookSpec(
    trigger_id="webhook:check",
    path="/hooks/check",
    graph_id="g",
    scheme="standard-webhooks",
    secrets=SECRET,
)

#: entry points whose runs carry a source other than their own name.
SOURCES = dict.fromkeys(("redis-stream", "amqp", "mqtt", "nats-jetstream"), "queue")

#: entry point name -> (deps, signal hook, clock) for a folder the test owns. One line each.
CASES: dict[str, Callable[[Path], tuple[dict[str, Any], Callable[..., Any], Any]]] = {
    "manual": lambda tmp: ({}, manual_signal, None),
    "cron": lambda tmp: ({"cron_specs": [CRON]}, cron_signal, ManualClock(T0)),
    "webhook": lambda tmp: ({"webhook_specs": [HOOK]}, webhook_signal, None),
    "fs": lambda tmp: (
        {"fs_specs": [FsSpec(trigger_id="fs:check", path=str(tmp), graph_id="g", settle=0.05)]},
        fs_signal,
        None,
    ),
    "redis-stream": lambda tmp: queue_case("redis-stream"),
    "amqp": lambda tmp: queue_case("amqp"),
    "mqtt": lambda tmp: queue_case("mqtt"),
    "nats-jetstream": lambda tmp: queue_case("nats-jetstream"),
}


@pytest.mark.parametrize("entry", sorted(CASES))
async def test_bundled_trigger_passes(entry: str, tmp_path: Path) -> None:
    deps, signal, clock = CASES[entry](tmp_path)
    target, why = resolve(f"stargraph:stargraph.triggers:{entry}")
    assert target is not None, why
    assert target.source == SOURCES.get(entry, entry)
    report = await check_trigger(target, deps, signal=_in(tmp_path, signal), clock=clock)
    assert report.ok, report.text()
    statuses = {r.check: r.status for r in report.results}
    assert set(statuses.values()) == {Status.passed}, report.text()


def test_every_bundled_trigger_is_covered() -> None:
    from importlib.metadata import entry_points

    bundled = {
        ep.name
        for ep in entry_points(group="stargraph.triggers")
        if ep.dist is not None and ep.dist.metadata["Name"] == "stargraph"
    }
    assert bundled <= set(CASES), f"add a line to CASES for {sorted(bundled - set(CASES))}"


def _in(folder: Path, signal: Callable[..., Any]) -> Callable[..., Any]:
    """Point the hook's ``workdir`` at the folder the fs spec watches."""

    def hook(ctx: SignalContext) -> Any:
        return signal(SignalContext(harness=ctx.harness, workdir=folder, round=ctx.round))

    return hook
