"""End to end through a real Hypercorn server and httpx: vectors, rotation, window, replay."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import pytest

from stargraph.triggers.webhook import WebhookSpec, sign

from .conftest import GRAPH_ID, ShiftedClock, webhook_stack
from .test_schemes import (
    GH_BODY,
    GH_SECRET,
    GH_SIG,
    SG_BODY,
    SG_SECRET,
    SG_SIG,
    SG_TS,
    SLACK_BODY,
    SLACK_SECRET,
    SLACK_SIG,
    SLACK_TS,
    STRIPE_BODY,
    STRIPE_SECRET,
    STRIPE_TS,
    STRIPE_V1,
    SW_BODY,
    SW_ID,
    SW_SECRET,
    SW_SIG,
    SW_TS,
)

SECRETS = {"standard-webhooks": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
TIMED = ["stargraph", "standard-webhooks", "stripe", "slack"]
ALL = [*TIMED, "github"]


def spec(scheme: str, *, secrets: tuple[str, ...] | None = None, **kw: Any) -> WebhookSpec:
    """A spec at /hooks/<scheme> for the test graph."""
    base: dict[str, Any] = {
        "trigger_id": f"webhook:{scheme}",
        "path": f"/hooks/{scheme}",
        "graph_id": GRAPH_ID,
        "scheme": scheme,
        "secrets": secrets or (SECRETS.get(scheme, "s3cret-value"),),
    }
    base.update(kw)
    return WebhookSpec(**base)


def signed(scheme: str, body: bytes, *, secret: str | None = None, **kw: Any) -> dict[str, str]:
    return sign(scheme, secret or SECRETS.get(scheme, "s3cret-value"), body, **kw)


# -- golden vectors, end to end -------------------------------------------------------------

VECTORS = {
    "standard-webhooks": (
        SW_SECRET,
        SW_TS,
        SW_BODY,
        {"webhook-id": SW_ID, "webhook-timestamp": str(SW_TS), "webhook-signature": SW_SIG},
        "json",
    ),
    "github": (
        GH_SECRET,
        int(time.time()),
        GH_BODY,
        {
            "X-Hub-Signature-256": GH_SIG,
            "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        },
        "raw",
    ),
    "slack": (
        SLACK_SECRET,
        SLACK_TS,
        SLACK_BODY,
        {"X-Slack-Request-Timestamp": str(SLACK_TS), "X-Slack-Signature": SLACK_SIG},
        "form",
    ),
    "stripe": (
        STRIPE_SECRET,
        STRIPE_TS,
        STRIPE_BODY,
        {"Stripe-Signature": f"t={STRIPE_TS},v1={STRIPE_V1},v0={'0' * 64}"},
        "json",
    ),
    "stargraph": (
        SG_SECRET,
        SG_TS,
        SG_BODY,
        {"X-Stargraph-Timestamp": str(SG_TS), "X-Stargraph-Signature": SG_SIG},
        "json",
    ),
}


@pytest.mark.parametrize("scheme", ALL)
async def test_golden_vector_end_to_end(scheme: str, sqlite_url: str) -> None:
    secret, ts, body, headers, params = VECTORS[scheme]
    sp = spec(scheme, secrets=(secret,), params=params)
    async with webhook_stack(sqlite_url, [sp], clock=ShiftedClock(ts)) as stack:
        with anyio.fail_after(10):
            resp = await stack.post(sp.path, body, headers)
            assert resp.status_code == 202, resp.text
            out = resp.json()
            assert set(out) == {"run_id", "idempotency_key", "deduplicated"}
            assert out["deduplicated"] is False
            assert out["idempotency_key"].startswith(f"{sp.trigger_id}:")
            run = await stack.scheduler.get_run(out["run_id"])
            assert run.trigger_source == "webhook" and run.trigger_id == sp.trigger_id
            assert run.idempotency_key == out["idempotency_key"]
            if params == "json":
                assert run.params == json.loads(body)
            elif params == "form":
                assert run.params["team_id"] == "T1DC2JH3J" and run.params["text"] == ""
            else:
                assert run.params == {"body": body.decode()}
            # The vector with one byte changed is refused.
            bad = await stack.post(sp.path, body + b" ", headers)
            assert bad.status_code == 401
            assert bad.json()["error"]["code"] == "invalid_signature"


# -- rotation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ALL)
async def test_rotation_previous_secret_accepted_then_dropped(scheme: str, sqlite_url: str) -> None:
    old = (
        "whsec_" + "b2xkLXNlY3JldC1rZXktYnl0ZXMtMTIzNDU2Nzg5MA=="
        if scheme == ("standard-webhooks")
        else "old-secret"
    )
    new = SECRETS.get(scheme, "new-secret")
    async with webhook_stack(sqlite_url, [spec(scheme, secrets=(new, old))]) as stack:
        with anyio.fail_after(10):
            for n, secret in enumerate((old, new)):
                body = json.dumps({"n": n}).encode()
                r = await stack.post(f"/hooks/{scheme}", body, signed(scheme, body, secret=secret))
                assert r.status_code == 202, r.text
    async with webhook_stack(sqlite_url, [spec(scheme, secrets=(new,))]) as stack:
        with anyio.fail_after(10):
            body = b'{"n": 3}'
            r = await stack.post(f"/hooks/{scheme}", body, signed(scheme, body, secret=old))
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_signature"
            r = await stack.post(f"/hooks/{scheme}", body, signed(scheme, body, secret=new))
            assert r.status_code == 202


# -- window edges ---------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", TIMED)
async def test_window_edges(scheme: str, sqlite_url: str) -> None:
    async with webhook_stack(sqlite_url, [spec(scheme, tolerance_seconds=60)]) as stack:
        with anyio.fail_after(10):
            now = int(time.time())
            for n, (offset, ok) in enumerate([(-55, True), (55, True), (-65, False), (65, False)]):
                body = json.dumps({"n": n}).encode()
                r = await stack.post(
                    f"/hooks/{scheme}", body, signed(scheme, body, timestamp=now + offset)
                )
                if ok:
                    assert r.status_code == 202, (offset, r.text)
                else:
                    assert r.status_code == 401, (offset, r.text)
                    assert r.json()["error"]["code"] == "timestamp_out_of_window"


# -- replay versus re-delivery ------------------------------------------------------------


@pytest.mark.parametrize("scheme", TIMED)
async def test_replay_is_409_redelivery_is_deduplicated(scheme: str, sqlite_url: str) -> None:
    body = b'{"id": "evt_1", "event_id": "Ev1", "x": 1}'
    async with webhook_stack(sqlite_url, [spec(scheme)]) as stack:
        with anyio.fail_after(10):
            now = int(time.time())
            first = signed(scheme, body, timestamp=now, msg_id="msg_1")
            r1 = await stack.post(f"/hooks/{scheme}", body, first)
            assert r1.status_code == 202 and r1.json()["deduplicated"] is False
            replay = await stack.post(f"/hooks/{scheme}", body, first)
            assert replay.status_code == 409
            assert replay.json()["error"]["code"] == "duplicate_nonce"
            again = signed(scheme, body, timestamp=now + 1, msg_id="msg_1")
            r2 = await stack.post(f"/hooks/{scheme}", body, again)
            assert r2.status_code == 202, r2.text
            assert r2.json() == {**r1.json(), "deduplicated": True}
            assert await stack.run_count() == 1


async def test_github_same_delivery_again_is_a_deduplicated_redelivery(sqlite_url: str) -> None:
    body = b'{"ref": "main"}'
    async with webhook_stack(sqlite_url, [spec("github")]) as stack:
        with anyio.fail_after(10):
            headers = signed("github", body, msg_id="guid-1")
            r1 = await stack.post("/hooks/github", body, headers)
            r2 = await stack.post("/hooks/github", body, headers)
            assert r1.status_code == r2.status_code == 202
            assert r1.json()["idempotency_key"] == "webhook:github:guid-1"
            assert r2.json() == {**r1.json(), "deduplicated": True}
            # A different delivery id with the same body is a new delivery (a new run).
            r3 = await stack.post("/hooks/github", body, signed("github", body, msg_id="guid-2"))
            assert r3.status_code == 202 and r3.json()["run_id"] != r1.json()["run_id"]
            assert await stack.run_count() == 2


async def test_body_hash_key_when_no_id(sqlite_url: str) -> None:
    body = b'{"no": "id"}'
    async with webhook_stack(sqlite_url, [spec("stargraph")]) as stack:
        with anyio.fail_after(10):
            r = await stack.post("/hooks/stargraph", body, signed("stargraph", body))
            import hashlib

            assert r.json()["idempotency_key"] == (
                "webhook:stargraph:" + hashlib.sha256(body).hexdigest()
            )


async def test_replay_refused_after_restart(sqlite_url: str) -> None:
    body = b'{"a": 1}'
    headers = signed("stargraph", body)
    async with webhook_stack(sqlite_url, [spec("stargraph")]) as stack:
        with anyio.fail_after(10):
            assert (await stack.post("/hooks/stargraph", body, headers)).status_code == 202
    async with webhook_stack(sqlite_url, [spec("stargraph")]) as stack:
        with anyio.fail_after(10):
            r = await stack.post("/hooks/stargraph", body, headers)
            assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_nonce"
            assert await stack.run_count() == 1


async def test_replay_refused_by_a_second_runtime_sharing_the_store(sqlite_url: str) -> None:
    body = b'{"a": 2}'
    headers = signed("standard-webhooks", body)
    specs = [spec("standard-webhooks")]
    async with webhook_stack(sqlite_url, specs) as a, webhook_stack(sqlite_url, specs) as b:
        with anyio.fail_after(10):
            assert a.url != b.url
            assert (await a.post("/hooks/standard-webhooks", body, headers)).status_code == 202
            r = await b.post("/hooks/standard-webhooks", body, headers)
            assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_nonce"
            fresh = signed(
                "standard-webhooks",
                body,
                msg_id=headers["webhook-id"],
                timestamp=int(headers["webhook-timestamp"]) + 1,
            )
            r = await b.post("/hooks/standard-webhooks", body, fresh)
            assert r.status_code == 202 and r.json()["deduplicated"] is True
            assert await b.run_count() == 1


@pytest.mark.postgres
async def test_two_nodes_on_postgres_share_replay_protection(postgres_url: str) -> None:
    body = b'{"pg": 1}'
    headers = signed("stripe", body)
    specs = [spec("stripe")]
    async with webhook_stack(postgres_url, specs) as a, webhook_stack(postgres_url, specs) as b:
        with anyio.fail_after(20):
            r1 = await a.post("/hooks/stripe", body, headers)
            assert r1.status_code == 202, r1.text
            r = await b.post("/hooks/stripe", body, headers)
            assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_nonce"
            ts = int(headers["Stripe-Signature"].split(",")[0][2:])
            r = await b.post("/hooks/stripe", body, signed("stripe", body, timestamp=ts + 1))
            assert r.status_code == 202 and r.json() == {**r1.json(), "deduplicated": True}
            assert await b.run_count() == 1


async def test_slack_url_verification_is_answered_without_a_run(sqlite_url: str) -> None:
    body = (
        b'{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",'
        b'"type":"url_verification"}'
    )
    async with webhook_stack(sqlite_url, [spec("slack")]) as stack:
        with anyio.fail_after(10):
            r = await stack.post("/hooks/slack", body, signed("slack", body))
            assert r.status_code == 200
            assert r.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
            bad = await stack.post("/hooks/slack", body, signed("slack", body, secret="wrong"))
            assert bad.status_code == 401  # the check itself must be signed
            assert await stack.run_count() == 0
