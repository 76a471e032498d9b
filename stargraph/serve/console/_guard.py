"""Who may see ``/ui``: loopback-only without a token, a login session with one, CSRF on POST.

Installed app-wide (:func:`install_guard`) so that every path under ``/ui``, matched or not,
goes through the same checks and gets the same security headers.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlsplit

from quart import Quart, Response, current_app, g, redirect, request, url_for

from stargraph.serve._auth import is_loopback
from stargraph.serve._state import current_state
from stargraph.serve.console._session import COOKIE, MAX_AGE, Session, SessionCodec

__all__ = ["CONSOLE_KEY", "CSP", "PREFIX", "current_session", "install_guard", "is_local"]

PREFIX = "/ui"
CONSOLE_KEY = "stargraph_console"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
#: Endpoints a browser reaches before logging in (they still get a session and CSRF checks).
_OPEN = {"stargraph_console.login", "stargraph_console.login_post", "stargraph_console.static"}


def _in_console() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def codec() -> SessionCodec:
    """The session codec of the current app."""
    value: SessionCodec = current_app.extensions[CONSOLE_KEY]
    return value


def current_session() -> Session:
    """The session of the current console request."""
    session: Session = g.console_session
    return session


def is_local() -> bool:
    """True when the request came over loopback and names a loopback host (no DNS rebinding)."""
    server = request.scope.get("server") or ("", 0)
    client = request.scope.get("client") or ("", 0)
    host = urlsplit(f"//{request.host}").hostname or ""
    return is_loopback(str(server[0])) and is_loopback(str(client[0])) and is_loopback(host)


def _authenticated(session: Session, token: str | None) -> bool:
    if not token:
        return True
    return session.auth is not None and hmac.compare_digest(
        session.auth, codec().fingerprint(token)
    )


def _load_session() -> Session:
    session = codec().load(request.cookies.get(COOKIE))
    if session is None:
        session = Session.fresh()
        g.console_cookie = True
    g.console_session = session
    return session


def _same_origin() -> bool:
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.host


async def _csrf_ok(session: Session) -> bool:
    form = await request.form
    given = form.get("csrf", "")
    return _same_origin() and hmac.compare_digest(given.encode(), session.csrf.encode())


async def guard() -> Any:
    """App ``before_request`` hook for ``/ui``: locality, login, CSRF."""
    if not _in_console():
        return None
    token = current_state().api_token
    if not token and not is_local():
        return _plain(403, "The console is served over loopback only while no API token is set.")
    session = _load_session()
    if request.endpoint not in _OPEN and not _authenticated(session, token):
        return redirect(url_for("stargraph_console.login", next=_next_path()), 303)
    if request.method == "POST" and not await _csrf_ok(session):
        return _plain(403, "The form expired or came from another site; reload the page.")
    return None


def _next_path() -> str:
    path = request.full_path.rstrip("?")
    return path if path.startswith(PREFIX) else PREFIX + "/"


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status=status, content_type="text/plain; charset=utf-8")


async def secure_headers(response: Response) -> Response:
    """App ``after_request`` hook: security headers on every ``/ui`` answer, new cookies set."""
    if not _in_console():
        return response
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    if g.get("console_cookie"):
        set_session_cookie(response, current_session())
    return response


def set_session_cookie(response: Response, session: Session) -> None:
    """Write *session* as an HttpOnly, SameSite=Strict cookie scoped to ``/ui``."""
    response.set_cookie(
        COOKIE, codec().dump(session), max_age=MAX_AGE, path=PREFIX, httponly=True,
        samesite="Strict", secure=request.scheme == "https",
    )  # fmt: skip
    g.console_cookie = False


def install_guard(app: Quart, session_codec: SessionCodec) -> None:
    """Guard every ``/ui`` path of *app* and add the security headers."""
    app.extensions[CONSOLE_KEY] = session_codec
    app.before_request(guard)
    app.after_request(secure_headers)
