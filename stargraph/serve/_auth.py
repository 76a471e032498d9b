"""Bearer-token auth for every route under ``/v1/``, whoever registered it.

One app-wide ``before_request`` hook (:func:`guard_api`) demands the token on every path under
``/v1/`` (matched or not: an unknown ``/v1/`` path is 401 before it is 404), except routes
marked with :func:`stargraph.triggers.public_route` (the webhook routes, and plugin routes that
say so explicitly).
"""

from __future__ import annotations

import hmac
import ipaddress

from quart import current_app, request

from stargraph.serve._errors import ApiError
from stargraph.serve._state import current_state
from stargraph.triggers.public import is_public

__all__ = ["guard_api", "is_loopback", "is_public_endpoint", "require_token", "usable_token"]

API_PREFIX = "/v1/"


def usable_token(token: str | None) -> str | None:
    """*token* without surrounding whitespace, or ``None`` when that leaves nothing."""
    if token is None:
        return None
    return token.strip() or None


def is_public_endpoint(app: object, endpoint: str | None) -> bool:
    """True when *endpoint* of *app* (a view or its Blueprint) is marked public."""
    if endpoint is None:
        return False
    view = getattr(app, "view_functions", {}).get(endpoint)
    blueprint = getattr(app, "blueprints", {}).get(endpoint.rpartition(".")[0])
    return is_public(view) or is_public(blueprint)


async def guard_api() -> None:
    """App ``before_request`` hook: the token on every ``/v1/`` path but public routes."""
    if request.path != API_PREFIX[:-1] and not request.path.startswith(API_PREFIX):
        return
    rule = request.url_rule
    if rule is not None and is_public_endpoint(current_app, rule.endpoint):
        return
    await require_token()


async def require_token() -> None:
    """With a token configured, demand ``Authorization: Bearer <token>`` (else 401)."""
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
