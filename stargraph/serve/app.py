"""The app factory: ``Quart`` on asyncio, ``QuartTrio`` on trio, the same Blueprints on both.

The runtime is created and entered outside the app (its task group must not live in the app's
lifespan) and attached with :func:`attach_runtime`, which also mounts the triggers' routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quart import Quart

from stargraph.serve._auth import guard_api, usable_token
from stargraph.serve._errors import install_error_handlers
from stargraph.serve._state import STATE_KEY, AppState, current_runtime, current_state
from stargraph.serve.api_runs import runs_bp
from stargraph.serve.api_triggers import triggers_bp
from stargraph.serve.console import install_console
from stargraph.serve.ops import ops_bp

if TYPE_CHECKING:
    from stargraph.runtime import Runtime

__all__ = ["AppState", "attach_runtime", "create_app", "current_runtime", "current_state"]


def create_app(
    backend: str = "asyncio", *, api_token: str | None = None, console_secret: str | None = None
) -> Quart:
    """Return a new app for *backend* (``asyncio`` or ``trio``) with the API and console mounted.

    *console_secret* signs console sessions; without it ``$STARGRAPH_CONSOLE_SECRET`` is used,
    else a random per-process secret (see ``docs/console.md``).
    """
    app: Quart
    if backend == "trio":
        from quart_trio import QuartTrio

        app = QuartTrio("stargraph", static_folder=None)
    elif backend == "asyncio":
        app = Quart("stargraph", static_folder=None)
    else:
        raise ValueError(f"backend must be 'asyncio' or 'trio', got {backend!r}")
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False  # OPTIONS: 405 JSON with Allow, not HTML
    app.extensions[STATE_KEY] = AppState(backend=backend, api_token=usable_token(api_token))
    for bp in (runs_bp, triggers_bp, ops_bp):
        app.register_blueprint(bp)
    app.before_request(guard_api)  # every /v1/ route, plugins' included (unless public)
    install_console(app, console_secret)  # /ui: login session, CSRF, loopback rule, CSP
    install_error_handlers(app)
    return app


def attach_runtime(app: Quart, runtime: Runtime) -> None:
    """Give *app* the (entered) *runtime* and mount its trigger routes (webhooks, plugins)."""
    state: AppState = app.extensions[STATE_KEY]
    for bp in runtime.routes:
        app.register_blueprint(bp)
        state.trigger_blueprints.append(bp.name)
    state.runtime = runtime
