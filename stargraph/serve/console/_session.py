"""The console's session: a signed cookie carrying a CSRF token and who logged in.

The cookie is ``HttpOnly``, ``SameSite=Strict``, scoped to ``/ui`` and signed (itsdangerous,
HMAC-SHA1 over a key derived from the server secret). The secret is ``STARGRAPH_CONSOLE_SECRET``
when set, else 32 random bytes drawn when the app is created: then a restart logs everyone out
and a session opened on one node is not valid on another (see ``docs/console.md``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

import attrs
from itsdangerous import BadSignature, URLSafeTimedSerializer

__all__ = ["COOKIE", "MAX_AGE", "SECRET_ENV", "Session", "SessionCodec", "console_secret"]

COOKIE = "stargraph_console"
MAX_AGE = 12 * 3600  # seconds a session lasts after login
SECRET_ENV = "STARGRAPH_CONSOLE_SECRET"


def console_secret(explicit: str | None = None) -> bytes:
    """The signing secret: *explicit*, else ``$STARGRAPH_CONSOLE_SECRET``, else random."""
    text = (explicit or os.environ.get(SECRET_ENV) or "").strip()
    return text.encode() if text else secrets.token_bytes(32)


@attrs.frozen(kw_only=True)
class Session:
    """One browser's session: its CSRF token and the fingerprint of the token it logged in with."""

    csrf: str = attrs.field(repr=False)
    auth: str | None = attrs.field(default=None, repr=False)

    @classmethod
    def fresh(cls, auth: str | None = None) -> Session:
        """A new session with a new CSRF token."""
        return cls(csrf=secrets.token_urlsafe(32), auth=auth)


class SessionCodec:
    """Sign and check session cookies with one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._serializer = URLSafeTimedSerializer(secret, salt="stargraph.console.session")

    def dump(self, session: Session) -> str:
        """The cookie value for *session*."""
        return str(self._serializer.dumps({"c": session.csrf, "a": session.auth}))

    def load(self, value: str | None) -> Session | None:
        """The session in cookie *value*, or ``None`` when absent, forged or expired."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        auth = data.get("a")
        return Session(csrf=data["c"], auth=auth if isinstance(auth, str) else None)

    def fingerprint(self, token: str) -> str:
        """A keyed digest of the API token: a new token ends every session opened with the old."""
        return hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()[:32]
