"""Standard Webhooks as real senders sign: the official ``standardwebhooks`` library's
signatures, under both the ``webhook-*`` and Svix's default ``svix-*`` header names, and
``whsec_`` secrets without their base64 padding (issue 11, defect 4)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import anyio
import pytest
from standardwebhooks.webhooks import Webhook

from stargraph.triggers.webhook import WebhookSpec

from .conftest import GRAPH_ID, webhook_stack

KEY = bytes(range(1, 25))  # 24 bytes: base64 without padding is still 32 characters
ODD_KEY = bytes(range(1, 27))  # 26 bytes: its base64 ends in "==" when padded
PADDED = "whsec_" + base64.b64encode(ODD_KEY).decode()
UNPADDED = PADDED.rstrip("=")


def official(secret: str, body: bytes, prefix: str = "webhook-") -> dict[str, str]:
    """The headers the official library's signer produces, under *prefix* names."""
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    sig = Webhook(secret).sign(msg_id, now, body)
    stamp = str(int(now.timestamp()))
    return {f"{prefix}id": msg_id, f"{prefix}timestamp": stamp, f"{prefix}signature": sig}


def spec(secret: str) -> WebhookSpec:
    return WebhookSpec(
        trigger_id="webhook:svix",
        path="/hooks/svix",
        graph_id=GRAPH_ID,
        scheme="standard-webhooks",
        secrets=(secret,),
    )


@pytest.mark.parametrize("prefix", ["webhook-", "svix-", "Svix-"])
async def test_official_signer_under_both_header_names(sqlite_url: str, prefix: str) -> None:
    body = b'{"type": "invoice.paid"}'
    async with webhook_stack(sqlite_url, [spec(PADDED)]) as stack:
        with anyio.fail_after(10):
            r = await stack.post("/hooks/svix", body, official(PADDED, body, prefix))
            assert r.status_code == 202, r.text


async def test_unpadded_whsec_secret_is_accepted(sqlite_url: str) -> None:
    body = b'{"n": 1}'
    assert UNPADDED != PADDED
    async with webhook_stack(sqlite_url, [spec(UNPADDED)]) as stack:
        with anyio.fail_after(10):
            r = await stack.post("/hooks/svix", body, official(PADDED, body, "svix-"))
            assert r.status_code == 202, r.text


async def test_mixed_header_sets_are_refused(sqlite_url: str) -> None:
    body = b'{"n": 2}'
    headers = official(PADDED, body, "svix-")
    mixed = {**headers, "webhook-id": headers["svix-id"]}
    mixed.pop("svix-id")
    async with webhook_stack(sqlite_url, [spec(PADDED)]) as stack:
        with anyio.fail_after(10):
            r = await stack.post("/hooks/svix", body, mixed)
            assert r.status_code == 400, r.text
            error = r.json()["error"]
            assert error["code"] == "invalid_header"
            assert "svix-id" in error["message"] and "webhook-id" in error["message"]
            assert await stack.run_count() == 0


async def test_wrong_secret_under_svix_names_is_401(sqlite_url: str) -> None:
    body = b'{"n": 3}'
    other = "whsec_" + base64.b64encode(KEY).decode()
    async with webhook_stack(sqlite_url, [spec(PADDED)]) as stack:
        with anyio.fail_after(10):
            r = await stack.post("/hooks/svix", body, official(other, body, "svix-"))
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_signature"
