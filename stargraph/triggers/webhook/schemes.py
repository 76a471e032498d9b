"""Signature schemes: one small verifier (and signer) per scheme, over the exact raw bytes.

Each verifier takes the request headers (lower-case names), the raw body, the key bytes of
every accepted secret, the current Unix time and the tolerance. It returns a
:class:`Delivery` or raises :class:`~stargraph.errors.WebhookRejected`. Signatures are compared
as raw digests with :func:`hmac.compare_digest`; header values are parsed strictly and bounded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence

import attrs

from stargraph.errors import WebhookRejected

__all__ = ["Delivery", "secret_key", "sign", "slack_challenge", "verify"]

_MAX_HEADER = 4096
_MAX_TOKENS = 32
_TS = re.compile(r"[0-9]{1,12}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[\x21-\x7e]{1,256}")
_WHSEC = "whsec_"

Headers = Mapping[str, str]


@attrs.frozen(kw_only=True)
class Delivery:
    """A verified delivery.

    ``nonce`` is the replay key (a hash of the signed content, timestamp included) or ``None``
    when the scheme signs no timestamp (github); ``nonce_expires`` is when a replay of it would
    fail the window anyway; ``dedup_id`` becomes the run's idempotency key after the trigger id.
    """

    nonce: str | None
    nonce_expires: int | None
    dedup_id: str


def _reject(code: str, message: str, status: int = 401) -> WebhookRejected:
    return WebhookRejected(code, message, status)


def secret_key(scheme: str, secret: str) -> bytes:
    """Return the HMAC key bytes of *secret* for *scheme* (raise ``ValueError`` if unusable)."""
    if scheme != "standard-webhooks":
        return secret.encode("utf-8")
    raw = secret.removeprefix(_WHSEC)
    raw += "=" * (-len(raw) % 4)  # senders' dashboards may drop the padding; their libs add it
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "a standard-webhooks secret must be 'whsec_' followed by base64 "
            "(as shown by the sender)"
        ) from None
    if not key:
        raise ValueError("a standard-webhooks secret decodes to no key bytes")
    return key


def _mac(key: bytes, prefix: bytes, body: bytes) -> bytes:
    mac = hmac.new(key, prefix, hashlib.sha256)
    mac.update(body)
    return mac.digest()


def _digest(prefix: bytes, body: bytes) -> str:
    h = hashlib.sha256(prefix)
    h.update(body)
    return h.hexdigest()


def _header(headers: Headers, name: str) -> str:
    value = headers.get(name.lower())
    if value is None or not value.strip():
        raise _reject("missing_headers", f"header {name} is missing or empty")
    if len(value) > _MAX_HEADER:
        sig = "signature" in name.lower()
        raise _reject(
            "invalid_signature" if sig else "invalid_header",
            f"header {name} is longer than {_MAX_HEADER} characters",
            401 if sig else 400,
        )
    return value.strip()


def _timestamp(text: str, name: str, now: int, tolerance: int) -> int:
    if not _TS.fullmatch(text):
        raise _reject("invalid_timestamp", f"{name} must be integer Unix seconds")
    ts = int(text)
    if abs(now - ts) > tolerance:
        raise _reject(
            "timestamp_out_of_window",
            f"{name} is {now - ts} s away from the server clock; the tolerance is {tolerance} s",
        )
    return ts


def _hex_sigs(values: Sequence[str], what: str) -> list[bytes]:
    sigs = [bytes.fromhex(v) for v in values if _HEX64.fullmatch(v)]
    if not sigs:
        raise _reject("invalid_signature", f"{what} holds no well-formed signature")
    return sigs


def _check(keys: Sequence[bytes], prefix: bytes, body: bytes, sigs: Sequence[bytes]) -> None:
    ok = False
    for key in keys:
        expected = _mac(key, prefix, body)
        for sig in sigs:
            ok |= hmac.compare_digest(expected, sig)
    if not ok:
        raise _reject("invalid_signature", "no signature matches any configured secret")


def _body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _message_id(value: str | None, name: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _ID.fullmatch(value):
        raise _reject("invalid_header", f"{name} must be 1-256 printable ASCII characters", 400)
    return value


def _timed(prefix: bytes, body: bytes, ts: int, tolerance: int, dedup_id: str) -> Delivery:
    return Delivery(nonce=_digest(prefix, body), nonce_expires=ts + tolerance, dedup_id=dedup_id)


def _verify_stargraph(
    headers: Headers, body: bytes, keys: Sequence[bytes], now: int, tolerance: int
) -> Delivery:
    ts_text = _header(headers, "X-Stargraph-Timestamp")
    sig_text = _header(headers, "X-Stargraph-Signature")
    ts = _timestamp(ts_text, "X-Stargraph-Timestamp", now, tolerance)
    prefix = ts_text.encode("ascii") + b"."
    _check(keys, prefix, body, _hex_sigs([sig_text], "X-Stargraph-Signature"))
    return _timed(prefix, body, ts, tolerance, _body_hash(body))


_STANDARD_NAMES = ("id", "timestamp", "signature")


def _standard_prefix(headers: Headers) -> str:
    """``webhook-`` or ``svix-`` (Svix's default names): whichever set the request uses.

    A request holding headers of both sets is refused rather than verified from a mix.
    """
    has = {p: any(f"{p}{n}" in headers for n in _STANDARD_NAMES) for p in ("webhook-", "svix-")}
    if has["webhook-"] and has["svix-"]:
        raise _reject(
            "invalid_header",
            "the request mixes webhook-id/webhook-timestamp/webhook-signature with "
            "svix-id/svix-timestamp/svix-signature; send one set only",
            400,
        )
    return "svix-" if has["svix-"] else "webhook-"


def _verify_standard(
    headers: Headers, body: bytes, keys: Sequence[bytes], now: int, tolerance: int
) -> Delivery:
    p = _standard_prefix(headers)
    msg_id = _header(headers, f"{p}id")
    ts_text = _header(headers, f"{p}timestamp")
    sig_text = _header(headers, f"{p}signature")
    _message_id(msg_id, f"{p}id")
    if "." in msg_id:
        raise _reject("invalid_header", f"{p}id must not contain '.'", 400)
    ts = _timestamp(ts_text, f"{p}timestamp", now, tolerance)
    sigs = []
    for token in sig_text.split()[:_MAX_TOKENS]:
        version, _, value = token.partition(",")
        if version == "v1":
            try:
                sig = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                continue
            if len(sig) == 32:
                sigs.append(sig)
    if not sigs:
        raise _reject("invalid_signature", f"{p}signature holds no well-formed v1 signature")
    prefix = f"{msg_id}.{ts_text}.".encode("ascii")
    _check(keys, prefix, body, sigs)
    return _timed(prefix, body, ts, tolerance, msg_id)


def _verify_github(
    headers: Headers, body: bytes, keys: Sequence[bytes], now: int, tolerance: int
) -> Delivery:
    sig_text = _header(headers, "X-Hub-Signature-256")
    delivery = _message_id(headers.get("x-github-delivery"), "X-GitHub-Delivery")
    scheme, _, value = sig_text.partition("=")
    if scheme != "sha256":
        raise _reject("invalid_signature", "X-Hub-Signature-256 must be 'sha256=<hex>'")
    _check(keys, b"", body, _hex_sigs([value], "X-Hub-Signature-256"))
    return Delivery(nonce=None, nonce_expires=None, dedup_id=delivery or _body_hash(body))


def _stripe_items(sig_text: str) -> tuple[str, list[str]]:
    stamps: list[str] = []
    v1: list[str] = []
    for item in sig_text.split(",")[:_MAX_TOKENS]:
        key, _, value = item.strip().partition("=")
        if key == "t":
            stamps.append(value)
        elif key == "v1":
            v1.append(value)
    if len(stamps) != 1:
        raise _reject("invalid_timestamp", "Stripe-Signature must hold exactly one t=<seconds>")
    return stamps[0], v1


def _verify_stripe(
    headers: Headers, body: bytes, keys: Sequence[bytes], now: int, tolerance: int
) -> Delivery:
    ts_text, v1 = _stripe_items(_header(headers, "Stripe-Signature"))
    ts = _timestamp(ts_text, "Stripe-Signature t", now, tolerance)
    prefix = ts_text.encode("ascii") + b"."
    _check(keys, prefix, body, _hex_sigs(v1, "Stripe-Signature v1"))
    return _timed(prefix, body, ts, tolerance, _body_field(body, "id") or _body_hash(body))


def _verify_slack(
    headers: Headers, body: bytes, keys: Sequence[bytes], now: int, tolerance: int
) -> Delivery:
    ts_text = _header(headers, "X-Slack-Request-Timestamp")
    sig_text = _header(headers, "X-Slack-Signature")
    ts = _timestamp(ts_text, "X-Slack-Request-Timestamp", now, tolerance)
    version, _, value = sig_text.partition("=")
    if version != "v0":
        raise _reject("invalid_signature", "X-Slack-Signature must be 'v0=<hex>'")
    prefix = f"v0:{ts_text}:".encode("ascii")
    _check(keys, prefix, body, _hex_sigs([value], "X-Slack-Signature"))
    return _timed(prefix, body, ts, tolerance, _body_field(body, "event_id") or _body_hash(body))


def slack_challenge(body: bytes) -> str | None:
    """Return the ``challenge`` of a Slack ``url_verification`` body (answered, never run)."""
    if _body_field(body, "type") != "url_verification":
        return None
    return _body_field(body, "challenge")


def _body_field(body: bytes, name: str) -> str | None:
    """Return a top-level string field of a JSON object body, if it is a usable id."""
    if not body.lstrip().startswith(b"{"):
        return None
    try:
        value = json.loads(body).get(name)
    except (ValueError, RecursionError, AttributeError):
        return None
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


_Verifier = Callable[[Headers, bytes, Sequence[bytes], int, int], Delivery]
_VERIFIERS: dict[str, _Verifier] = {
    "stargraph": _verify_stargraph,
    "standard-webhooks": _verify_standard,
    "github": _verify_github,
    "stripe": _verify_stripe,
    "slack": _verify_slack,
}


def verify(
    scheme: str, headers: Headers, body: bytes, keys: Sequence[bytes], *, now: int, tolerance: int
) -> Delivery:
    """Verify one delivery under *scheme*; raise ``WebhookRejected`` if it does not verify.

    *headers* maps lower-case header names to values; *keys* are from :func:`secret_key`.
    """
    return _VERIFIERS[scheme](headers, body, keys, now, tolerance)


def sign(
    scheme: str,
    secret: str,
    body: bytes | str,
    *,
    timestamp: int | None = None,
    msg_id: str | None = None,
) -> dict[str, str]:
    """Return the headers a sender using *scheme* would send with *body*.

    *timestamp* defaults to now; *msg_id* (standard-webhooks ``webhook-id``, github
    ``X-GitHub-Delivery``) defaults to a fresh random id.
    """
    if scheme not in _VERIFIERS:
        raise ValueError(f"unknown webhook scheme {scheme!r}; use one of {', '.join(_VERIFIERS)}")
    if msg_id is not None and (not _ID.fullmatch(msg_id) or "." in msg_id):
        raise ValueError(
            f"msg_id must be 1-256 printable ASCII characters without '.', got {msg_id!r:.80}"
        )
    raw = body.encode("utf-8") if isinstance(body, str) else body
    key = secret_key(scheme, secret)
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    if scheme == "stargraph":
        mac = _mac(key, f"{ts}.".encode(), raw).hex()
        return {"X-Stargraph-Timestamp": ts, "X-Stargraph-Signature": mac}
    if scheme == "standard-webhooks":
        mid = msg_id or f"msg_{uuid.uuid4().hex}"
        b64 = base64.b64encode(_mac(key, f"{mid}.{ts}.".encode(), raw)).decode("ascii")
        return {"webhook-id": mid, "webhook-timestamp": ts, "webhook-signature": f"v1,{b64}"}
    if scheme == "github":
        return {
            "X-Hub-Signature-256": f"sha256={_mac(key, b'', raw).hex()}",
            "X-GitHub-Delivery": msg_id or str(uuid.uuid4()),
        }
    if scheme == "stripe":
        return {"Stripe-Signature": f"t={ts},v1={_mac(key, f'{ts}.'.encode(), raw).hex()}"}
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={_mac(key, f'v0:{ts}:'.encode(), raw).hex()}",
    }
