"""Bearer-token auth for the ``/v1/`` API Blueprints (webhook routes use their signatures)."""

from __future__ import annotations

import hmac
import ipaddress

from quart import request

from stargraph.serve._errors import ApiError
from stargraph.serve._state import current_state

__all__ = ["is_loopback", "require_token"]


async def require_token() -> None:
    """``before_request`` hook: with a token configured, demand ``Authorization: Bearer``."""
    token = current_state().api_token
    if not token:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise ApiError(
            401,
            "unauthorized",
            "missing or wrong bearer token (Authorization: Bearer <token>)",
            {"WWW-Authenticate": 'Bearer realm="stargraph"'},
        )


def is_loopback(host: str) -> bool:
    """True when *host* only listens on this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
