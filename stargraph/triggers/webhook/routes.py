"""The webhook Blueprint: one POST route per spec, written once for Quart and QuartTrio.

Order of checks: paused → size limit (413 before reading more than the limit) → headers,
timestamp window and signature → params → durable enqueue (a :class:`TriggerEvent` emitted
with source ``webhook``), which records the replay nonce in the same transaction as the run
(one commit per delivery) → 202, or 409 when the nonce was already recorded. A replay of an
accepted delivery always maps to the same idempotency key, so it only deduplicates onto the
existing run; and since the nonce commits with the run, a delivery whose commit failed
consumed no nonce and can be retried as is.

Every refusal is a JSON ``{"error": {"code", "message"}}`` answer written by ``stargraph._http``
(whose code table the REST API shares: a full intake is ``503 scheduler_busy`` on both), is
logged as ``webhook.rejected`` and counted in ``stargraph_webhook_rejections``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import anyio
import attrs
from quart import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from stargraph._http import answer_for, retry_after
from stargraph._http import error_response as _error
from stargraph._http import json_response as _json
from stargraph._log import log_event
from stargraph._tracing import NOOP
from stargraph.clock import Clock
from stargraph.errors import (
    InvalidParams,
    InvalidTriggerEvent,
    SchedulerBusy,
    SchedulerClosed,
    StoreError,
    UnknownGraph,
    WebhookRejected,
)
from stargraph.metrics import Metrics
from stargraph.scheduler.receipt import EnqueueReceipt
from stargraph.store.base import Nonce
from stargraph.triggers import Enqueuer, TriggerEvent, TriggerSource
from stargraph.triggers.public import public_route
from stargraph.triggers.webhook.deadlines import BodyDeadlines
from stargraph.triggers.webhook.params import Extractor, make_params
from stargraph.triggers.webhook.schemes import Delivery, slack_challenge, verify
from stargraph.triggers.webhook.spec import WebhookSpec

__all__ = ["BLUEPRINT_NAME", "Endpoint", "WebhookHost", "build_blueprint"]

BLUEPRINT_NAME = "stargraph_webhooks"
DEFAULT_BODY_TIMEOUT = 30.0
logger = logging.getLogger("stargraph.triggers.webhook")


@attrs.frozen(kw_only=True)
class Endpoint:
    """A spec with its derived key bytes and loaded params extractor."""

    spec: WebhookSpec
    keys: tuple[bytes, ...] = attrs.field(repr=False)
    extractor: Extractor | None = None


class WebhookHost(Protocol):
    """What the routes need from the trigger that owns them."""

    @property
    def scheduler(self) -> Enqueuer: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def metrics(self) -> Metrics | None: ...

    @property
    def deadlines(self) -> BodyDeadlines | None: ...

    def is_paused(self, trigger_id: str) -> bool: ...

    def accepted(self, trigger_id: str, when: datetime) -> None: ...


class _Unavailable(Exception):
    """A 503 answer: the code, a message and the Retry-After seconds."""

    def __init__(self, code: str, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


def _lower_headers() -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in request.headers.items():
        out.setdefault(name.lower(), value)
    return out


def _too_large(limit: int) -> WebhookRejected:
    return WebhookRejected(
        "payload_too_large", f"the request body is larger than {limit} bytes", 413
    )


async def _collect(limit: int) -> bytes:
    data = bytearray()
    try:
        async for chunk in request.body:
            data += chunk
            if len(data) > limit:
                raise _too_large(limit)
    except RequestEntityTooLarge:
        raise _too_large(limit) from None
    return bytes(data)


async def _read_body(host: WebhookHost, limit: int) -> bytes:
    """Read the body, refusing (413) as soon as it is known to exceed *limit* bytes."""
    length = request.content_length
    if length is not None and length > limit:
        raise _too_large(limit)
    timeout = float(getattr(request, "body_timeout", None) or DEFAULT_BODY_TIMEOUT)
    deadlines = host.deadlines
    if deadlines is None or not deadlines.running:
        try:
            with anyio.fail_after(timeout):
                return await _collect(limit)
        except TimeoutError:
            raise _timed_out(timeout) from None
    key, watch = deadlines.watch(request.body, timeout)
    try:
        data = await _collect(limit)
    finally:
        deadlines.done(key)
    if watch.timed_out:
        raise _timed_out(timeout)
    return data


def _timed_out(timeout: float) -> WebhookRejected:
    return WebhookRejected("body_timeout", f"the body did not arrive within {timeout:g} s", 408)


def _enqueue(
    host: WebhookHost,
    spec: WebhookSpec,
    params: dict[str, Any],
    key: str,
    now: datetime,
    nonce: Nonce | None,
    headers: Mapping[str, str],
) -> EnqueueReceipt:
    tracing = getattr(host.scheduler, "tracing", NOOP)
    try:
        event = TriggerEvent(
            trigger_id=spec.trigger_id, scheduled_fire=now, idempotency_key=key, payload=params
        )
        with tracing.incoming(headers):  # a W3C traceparent continues its trace
            return host.scheduler.emit(
                event, graph_id=spec.graph_id, source=TriggerSource.webhook, nonce=nonce
            )
    except SchedulerClosed:
        raise _Unavailable("unavailable", "the scheduler is not running", 5) from None
    except UnknownGraph:
        raise _Unavailable(
            "graph_unavailable", f"graph {spec.graph_id!r} is not registered on this node", 30
        ) from None
    except InvalidTriggerEvent as exc:
        raise WebhookRejected("invalid_params", str(exc), 422) from None


def _nonce(spec: WebhookSpec, delivery: Delivery, now: datetime) -> Nonce | None:
    """The replay nonce to record with the run, kept until the timestamp leaves the window."""
    if delivery.nonce is None or delivery.nonce_expires is None:
        return None
    expires = datetime.fromtimestamp(delivery.nonce_expires + 1, UTC)
    return Nonce(
        scope=spec.trigger_id,
        nonce=delivery.nonce,
        expires_at=max(expires, now + timedelta(seconds=1)),
    )


def _replay() -> WebhookRejected:
    return WebhookRejected(
        "duplicate_nonce",
        "this signed delivery was already accepted (a replay); a sender retry must carry a "
        "fresh timestamp and signature",
        409,
    )


async def _accept(host: WebhookHost, ep: Endpoint) -> Response:
    spec = ep.spec
    if host.is_paused(spec.trigger_id):
        raise _Unavailable("trigger_paused", f"trigger {spec.trigger_id!r} is paused", 60)
    body = await _read_body(host, spec.max_body_bytes)
    headers = _lower_headers()
    now = host.clock.now()
    delivery = verify(
        spec.scheme,
        headers,
        body,
        ep.keys,
        now=math.floor(now.timestamp()),
        tolerance=spec.tolerance_seconds,
    )
    if spec.scheme == "slack" and (challenge := slack_challenge(body)) is not None:
        return _json(200, {"challenge": challenge})  # Slack's signed endpoint check: no run
    params = await make_params(spec.params, ep.extractor, body, headers)
    key = f"{spec.trigger_id}:{delivery.dedup_id}"
    nonce = _nonce(spec, delivery, now)
    enqueued = await _enqueue(host, spec, params, key, now, nonce, headers)
    if enqueued.replay:
        raise _replay()
    host.accepted(spec.trigger_id, now)
    return _json(
        202,
        {"run_id": enqueued.run_id, "idempotency_key": key, "deduplicated": enqueued.deduplicated},
    )


def _rejected(host: WebhookHost, trigger_id: str, code: str, status: int) -> None:
    log_event(
        logger,
        "webhook.rejected",
        logging.WARNING,
        trigger_id=trigger_id,
        reason=code,
        status=status,
    )
    metrics = host.metrics
    if metrics is not None:
        metrics.webhook_rejections.labels(trigger_id=trigger_id, reason=code).inc()


async def handle(host: WebhookHost, ep: Endpoint) -> Response:
    """Answer one delivery to *ep*; never a 5xx other than 503."""
    try:
        return await _accept(host, ep)
    except (WebhookRejected, SchedulerBusy, InvalidParams) as exc:  # the shared code table
        answer = answer_for(exc)
        _rejected(host, ep.spec.trigger_id, answer.code, answer.status)
        return answer.response()
    except _Unavailable as exc:
        _rejected(host, ep.spec.trigger_id, exc.code, 503)
        return _error(503, exc.code, str(exc), retry_after(exc.retry_after))
    except (StoreError, SchedulerClosed) as exc:
        _rejected(host, ep.spec.trigger_id, "unavailable", 503)
        log_event(
            logger,
            "webhook.store_failed",
            logging.ERROR,
            trigger_id=ep.spec.trigger_id,
            error=type(exc).__name__,
        )
        return _error(
            503, "unavailable", "the run store is unavailable; retry later", {"Retry-After": "5"}
        )


def build_blueprint(host: WebhookHost, endpoints: Sequence[Endpoint]) -> Blueprint:
    """Return one Blueprint holding a POST route per endpoint."""
    bp = public_route(Blueprint(BLUEPRINT_NAME, __name__))  # signed: no API token
    for index, ep in enumerate(endpoints):

        async def view(ep: Endpoint = ep) -> Response:
            return await handle(host, ep)

        bp.add_url_rule(ep.spec.path, endpoint=f"webhook_{index}", view_func=view, methods=["POST"])
    return bp
