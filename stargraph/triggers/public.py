"""The explicit marker of a plugin route that answers without the API token.

Every route under ``/v1/`` requires the API token (when one is configured), whoever registered
it. A trigger plugin whose route must be reachable without it (a signed callback, say) marks the
view function or the whole Blueprint it returns from ``routes()``::

    from stargraph.triggers import public_route

    bp = Blueprint("my_plugin", __name__)

    @bp.post("/v1/my-plugin/callback")
    @public_route
    async def callback(): ...

    public_route(other_bp)   # every route of other_bp

The route then authenticates its callers itself, and ``/openapi.json`` lists it with
``security: []``. Routes outside ``/v1/`` never require the token. The webhook trigger's own
Blueprint is marked this way (its deliveries are authenticated by their signatures).
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["PUBLIC_ATTR", "is_public", "public_route"]

PUBLIC_ATTR = "stargraph_public_route"
T = TypeVar("T")


def public_route(obj: T) -> T:
    """Mark a view function or a Blueprint as answering without the API token; return it."""
    setattr(obj, PUBLIC_ATTR, True)
    return obj


def is_public(obj: object) -> bool:
    """True when *obj* (a view function or a Blueprint) was marked by :func:`public_route`."""
    return getattr(obj, PUBLIC_ATTR, False) is True
