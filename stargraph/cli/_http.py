"""A small HTTP client on the standard library (``urllib.request``) for the CLI's server calls.

The CLI needs a handful of JSON requests to a local server; a stdlib client keeps the base
install free of an HTTP client dependency.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import attrs

from stargraph.errors import StargraphRuntimeError

__all__ = ["HttpResponse", "request"]


@attrs.frozen
class HttpResponse:
    """A response: the status code and the raw body."""

    status: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` when it is not JSON)."""
        return json.loads(self.body)


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    timeout: float = 10.0,
) -> HttpResponse:
    """Send one request; every status (also 4xx/5xx) is returned, not raised.

    Raises :class:`StargraphRuntimeError` naming the server when none answers.
    """
    data = None if json_body is None else json.dumps(json_body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return HttpResponse(status=resp.status, body=resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return HttpResponse(status=exc.code, body=exc.read())
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        origin = urllib.parse.urlsplit(url)
        raise StargraphRuntimeError(
            f"no Stargraph server answers at {origin.scheme}://{origin.netloc} ({reason})"
        ) from None
