"""The web console at ``/ui``: server-rendered pages over the REST API's own functions.

:func:`install_console` mounts the Blueprint and the guard (login, CSRF, loopback rule, CSP).
See ``docs/console.md``.
"""

from __future__ import annotations

from quart import Quart

from stargraph.serve.console import actions as _actions  # registers the POST routes
from stargraph.serve.console._guard import CSP, install_guard
from stargraph.serve.console._session import SECRET_ENV, SessionCodec, console_secret
from stargraph.serve.console._templates import install_filters
from stargraph.serve.console.pages import console_bp

__all__ = ["CSP", "SECRET_ENV", "install_console"]

del _actions


def install_console(app: Quart, secret: str | None = None) -> None:
    """Mount ``/ui`` on *app*, signing sessions with *secret* (see :func:`console_secret`)."""
    app.register_blueprint(console_bp)
    install_filters(app)
    install_guard(app, SessionCodec(console_secret(secret)))
