"""Golden vectors and strict parsing for every signature scheme (pure functions, no server)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from stargraph.errors import WebhookRejected
from stargraph.triggers.webhook import sign, verify
from stargraph.triggers.webhook.schemes import secret_key

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TS = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

GH_SECRET = "It's a Secret to Everybody"
GH_BODY = b"Hello, World!"
GH_SIG = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TS = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

# Stripe and the stargraph scheme publish no vector with its secret; these were computed with
# `openssl dgst -sha256 -hmac SECRET` (an implementation independent of this code).
STRIPE_SECRET = "whsec_test_secret"
STRIPE_TS = 1492774577
STRIPE_BODY = b'{"id":"evt_1Golden","object":"event"}'
STRIPE_V1 = "750bb8dce35c7b64552a01df34cc144ae8cf6a0794a2954480d86cabc5daa406"
SG_SECRET = "stargraph-golden-secret"
SG_TS = 1700000000
SG_BODY = b'{"hello":"world"}'
SG_SIG = "0adc009399903d9e23a3250a848e1be4084677826e5b5bb5d73228dd3c00a4e9"


def _keys(scheme: str, *secrets: str) -> list[bytes]:
    return [secret_key(scheme, s) for s in secrets]


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _verify(
    scheme: str, headers: dict[str, str], body: bytes, *secrets: str, now: int, tolerance: int = 300
):  # type: ignore[no-untyped-def]
    return verify(
        scheme, _lower(headers), body, _keys(scheme, *secrets), now=now, tolerance=tolerance
    )


def _code(exc: pytest.ExceptionInfo[WebhookRejected]) -> str:
    return exc.value.code


# -- golden vectors ----------------------------------------------------------------------------


def test_standard_webhooks_golden_vector() -> None:
    headers = {"webhook-id": SW_ID, "webhook-timestamp": str(SW_TS), "webhook-signature": SW_SIG}
    assert sign("standard-webhooks", SW_SECRET, SW_BODY, timestamp=SW_TS, msg_id=SW_ID) == headers
    d = _verify("standard-webhooks", headers, SW_BODY, SW_SECRET, now=SW_TS)
    assert d.dedup_id == SW_ID
    assert d.nonce is not None and d.nonce_expires == SW_TS + 300


def test_github_golden_vector() -> None:
    headers = sign("github", GH_SECRET, GH_BODY, msg_id="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert headers["X-Hub-Signature-256"] == GH_SIG
    d = _verify("github", headers, GH_BODY, GH_SECRET, now=0)
    assert d.nonce is None and d.nonce_expires is None
    assert d.dedup_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def test_slack_golden_vector() -> None:
    headers = sign("slack", SLACK_SECRET, SLACK_BODY, timestamp=SLACK_TS)
    assert headers == {"X-Slack-Request-Timestamp": str(SLACK_TS), "X-Slack-Signature": SLACK_SIG}
    d = _verify("slack", headers, SLACK_BODY, SLACK_SECRET, now=SLACK_TS + 1)
    assert d.dedup_id == hashlib.sha256(SLACK_BODY).hexdigest()  # form body: no event_id


def test_stripe_golden_vector_ignores_v0_and_uses_the_literal_secret() -> None:
    assert sign("stripe", STRIPE_SECRET, STRIPE_BODY, timestamp=STRIPE_TS) == {
        "Stripe-Signature": f"t={STRIPE_TS},v1={STRIPE_V1}"
    }
    header = f"t={STRIPE_TS},v1={'0' * 64},v1={STRIPE_V1},v0={'1' * 64}"
    d = _verify("stripe", {"Stripe-Signature": header}, STRIPE_BODY, STRIPE_SECRET, now=STRIPE_TS)
    assert d.dedup_id == "evt_1Golden"
    # A v0 signature alone never counts, even if it were a correct HMAC (downgrade attack).
    with pytest.raises(WebhookRejected) as exc:
        _verify(
            "stripe",
            {"Stripe-Signature": f"t={STRIPE_TS},v0={STRIPE_V1}"},
            STRIPE_BODY,
            STRIPE_SECRET,
            now=STRIPE_TS,
        )
    assert _code(exc) == "invalid_signature"


def test_stargraph_golden_vector() -> None:
    headers = sign("stargraph", SG_SECRET, SG_BODY, timestamp=SG_TS)
    assert headers == {"X-Stargraph-Timestamp": str(SG_TS), "X-Stargraph-Signature": SG_SIG}
    d = _verify("stargraph", headers, SG_BODY, SG_SECRET, now=SG_TS)
    assert d.dedup_id == hashlib.sha256(SG_BODY).hexdigest()


def test_standard_webhooks_key_is_base64_decoded_stripe_key_is_literal() -> None:
    assert secret_key("standard-webhooks", SW_SECRET) == base64.b64decode(SW_SECRET[6:])
    assert secret_key("stripe", STRIPE_SECRET) == STRIPE_SECRET.encode()
    with pytest.raises(ValueError, match="base64"):
        secret_key("standard-webhooks", "whsec_not base64!")


# -- several signatures and secrets ------------------------------------------------------------


def test_standard_webhooks_signature_list_and_rotation() -> None:
    old, new = "whsec_" + base64.b64encode(b"o" * 24).decode(), SW_SECRET
    other = base64.b64encode(b"x" * 32).decode()
    sig = f"v1a,{other} v2,{other} v1,{other} {SW_SIG}"
    headers = {"webhook-id": SW_ID, "webhook-timestamp": str(SW_TS), "webhook-signature": sig}
    assert _verify("standard-webhooks", headers, SW_BODY, old, new, now=SW_TS).dedup_id == SW_ID
    with pytest.raises(WebhookRejected) as exc:
        _verify("standard-webhooks", headers, SW_BODY, old, now=SW_TS)
    assert _code(exc) == "invalid_signature"


@pytest.mark.parametrize("scheme", ["stargraph", "github", "stripe", "slack"])
def test_previous_secret_is_accepted(scheme: str) -> None:
    headers = sign(scheme, "old-secret", b"{}", timestamp=1000)
    assert _verify(scheme, headers, b"{}", "new-secret", "old-secret", now=1000)
    with pytest.raises(WebhookRejected) as exc:
        _verify(scheme, headers, b"{}", "new-secret", now=1000)
    assert _code(exc) == "invalid_signature"


# -- window edges ------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["stargraph", "standard-webhooks", "stripe", "slack"])
@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_window_edges(scheme: str, offset: int, ok: bool) -> None:
    secret = SW_SECRET if scheme == "standard-webhooks" else "s3cret"
    headers = sign(scheme, secret, b"{}", timestamp=10_000)
    if ok:
        d = _verify(scheme, headers, b"{}", secret, now=10_000 - offset)
        assert d.nonce_expires == 10_300
    else:
        with pytest.raises(WebhookRejected) as exc:
            _verify(scheme, headers, b"{}", secret, now=10_000 - offset)
        assert _code(exc) == "timestamp_out_of_window" and exc.value.status == 401


def test_github_has_no_window() -> None:
    headers = sign("github", "s", b"x")
    assert _verify("github", headers, b"x", "s", now=0).nonce is None


# -- replay nonce ------------------------------------------------------------------------------


def test_nonce_is_the_signed_content_not_the_signature_list() -> None:
    a = sign("standard-webhooks", SW_SECRET, SW_BODY, timestamp=SW_TS, msg_id=SW_ID)
    b = dict(a, **{"webhook-signature": a["webhook-signature"] + " v1," + "A" * 44})
    da = _verify("standard-webhooks", a, SW_BODY, SW_SECRET, now=SW_TS)
    db = _verify("standard-webhooks", b, SW_BODY, SW_SECRET, now=SW_TS)
    assert da.nonce == db.nonce  # adding junk signatures does not make a replay look new
    fresh = sign("standard-webhooks", SW_SECRET, SW_BODY, timestamp=SW_TS + 5, msg_id=SW_ID)
    dc = _verify("standard-webhooks", fresh, SW_BODY, SW_SECRET, now=SW_TS)
    assert dc.nonce != da.nonce and dc.dedup_id == da.dedup_id  # a re-delivery


def test_slack_event_id_is_the_dedup_id() -> None:
    body = b'{"event_id":"Ev123","type":"event_callback"}'
    headers = sign("slack", "s", body, timestamp=5)
    assert _verify("slack", headers, body, "s", now=5).dedup_id == "Ev123"


# -- malformed headers -------------------------------------------------------------------------

BAD_HEADERS: list[tuple[str, dict[str, str], str]] = [
    ("stargraph", {}, "missing_headers"),
    ("stargraph", {"X-Stargraph-Timestamp": "1000"}, "missing_headers"),
    ("stargraph", {"X-Stargraph-Timestamp": " ", "X-Stargraph-Signature": "a"}, "missing_headers"),
    (
        "stargraph",
        {"X-Stargraph-Timestamp": "1_000", "X-Stargraph-Signature": "a" * 64},
        "invalid_timestamp",
    ),
    (
        "stargraph",
        {"X-Stargraph-Timestamp": "+1000", "X-Stargraph-Signature": "a" * 64},
        "invalid_timestamp",
    ),
    (
        "stargraph",
        {"X-Stargraph-Timestamp": "\u0661\u0660\u0660\u0660", "X-Stargraph-Signature": "a" * 64},
        "invalid_timestamp",
    ),
    (
        "stargraph",
        {"X-Stargraph-Timestamp": "1000", "X-Stargraph-Signature": "A" * 64},
        "invalid_signature",
    ),
    (
        "stargraph",
        {"X-Stargraph-Timestamp": "1000", "X-Stargraph-Signature": "é" * 64},
        "invalid_signature",
    ),
    (
        "stargraph",
        {"X-Stargraph-Timestamp": "1000", "X-Stargraph-Signature": "a" * 5000},
        "invalid_signature",
    ),
    (
        "standard-webhooks",
        {"webhook-id": "a.b", "webhook-timestamp": "1000", "webhook-signature": "v1,AAAA"},
        "invalid_header",
    ),
    (
        "standard-webhooks",
        {"webhook-id": "m", "webhook-timestamp": "1000", "webhook-signature": "v1,!!!! v1a,xyz"},
        "invalid_signature",
    ),
    ("github", {"X-Hub-Signature-256": "sha1=" + "a" * 40}, "invalid_signature"),
    (
        "github",
        {"X-Hub-Signature-256": "sha256=" + "a" * 64, "X-GitHub-Delivery": "ü"},
        "invalid_header",
    ),
    ("stripe", {"Stripe-Signature": "v1=" + "a" * 64}, "invalid_timestamp"),
    ("stripe", {"Stripe-Signature": "t=1000,t=1000,v1=" + "a" * 64}, "invalid_timestamp"),
    ("stripe", {"Stripe-Signature": "t=1000"}, "invalid_signature"),
    (
        "slack",
        {"X-Slack-Request-Timestamp": "1000", "X-Slack-Signature": "v1=" + "a" * 64},
        "invalid_signature",
    ),
    ("slack", {"X-Slack-Request-Timestamp": "1000"}, "missing_headers"),
]


@pytest.mark.parametrize(("scheme", "headers", "code"), BAD_HEADERS)
def test_malformed_headers_are_rejected(scheme: str, headers: dict[str, str], code: str) -> None:
    secret = SW_SECRET if scheme == "standard-webhooks" else "zq-secret-value"
    with pytest.raises(WebhookRejected) as exc:
        _verify(scheme, headers, b"{}", secret, now=1000)
    assert _code(exc) == code
    assert 400 <= exc.value.status < 500
    assert secret not in str(exc.value)


def test_tampered_body_fails() -> None:
    headers = sign("stargraph", "s", b'{"a":1}', timestamp=1000)
    with pytest.raises(WebhookRejected) as exc:
        _verify("stargraph", headers, b'{"a":2}', "s", now=1000)
    assert _code(exc) == "invalid_signature"


def test_sign_rejects_unknown_scheme_and_bad_ids() -> None:
    with pytest.raises(ValueError, match="unknown webhook scheme"):
        sign("nope", "s", b"")
    with pytest.raises(ValueError, match="msg_id"):
        sign("standard-webhooks", SW_SECRET, b"", msg_id="a.b")


def test_empty_github_delivery_falls_back_to_the_body_hash() -> None:
    headers = {**sign("github", "s", b"x"), "X-GitHub-Delivery": ""}
    assert _verify("github", headers, b"x", "s", now=0).dedup_id == hashlib.sha256(b"x").hexdigest()


def test_hmac_is_over_exact_bytes_including_non_utf8() -> None:
    body = b"\xff\xfe\x00raw"
    headers = sign("github", "s", body)
    expected = hmac.new(b"s", body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == f"sha256={expected}"
    assert _verify("github", headers, body, "s", now=0)
