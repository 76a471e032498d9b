"""What the serve handlers share, and how a handler finds it (a leaf: no other serve imports)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from quart import current_app

from stargraph.serve._errors import ApiError

if TYPE_CHECKING:
    from stargraph.runtime import Runtime

__all__ = ["STATE_KEY", "AppState", "current_runtime", "current_state"]

STATE_KEY = "stargraph"


@attrs.define(eq=False)
class AppState:
    """What the handlers share: the attached runtime and the API token (if any)."""

    backend: str
    api_token: str | None = attrs.field(default=None, repr=False)
    runtime: Runtime | None = None
    trigger_blueprints: list[str] = attrs.field(factory=list)
    #: ``time.monotonic()`` of the last StoreError an API answer reported (``/readyz`` reads it).
    store_failed_at: float | None = None
    #: The last ``/readyz`` write probe: ``(monotonic time, None or the failure code)``.
    last_probe: tuple[float, str | None] | None = None


def current_state() -> AppState:
    """Return the state of the app handling the current request."""
    state: AppState = current_app.extensions[STATE_KEY]
    return state


def current_runtime() -> Runtime:
    """Return the attached runtime, or raise 503 ``not_ready`` while there is none."""
    runtime = current_state().runtime
    if runtime is None:
        raise ApiError(503, "not_ready", "the runtime is not started yet", {"Retry-After": "1"})
    return runtime
