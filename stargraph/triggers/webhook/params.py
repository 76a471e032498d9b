"""Turn a verified delivery's body into run params: JSON, form, raw, or a user callable."""

from __future__ import annotations

import base64
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from stargraph._imports import load_object
from stargraph._json import JSONObject, ensure_json_object
from stargraph.errors import ConfigError, WebhookRejected

__all__ = ["Extractor", "load_extractor", "make_params"]

Extractor = Callable[[bytes, Mapping[str, str]], "Mapping[str, Any] | Awaitable[Mapping[str, Any]]"]
_MAX_FORM_FIELDS = 1000


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} overflows a float")
    return value


def json_params(body: bytes) -> JSONObject:
    """Parse a JSON object body (an empty body gives ``{}``)."""
    if not body.strip():
        return {}
    try:
        value = json.loads(
            body.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "is not UTF-8" if isinstance(exc, UnicodeDecodeError) else "is not valid JSON"
        raise WebhookRejected("invalid_body_json", f"the request body {reason}", 400) from None
    if not isinstance(value, dict):
        raise WebhookRejected(
            "body_not_json_object",
            f"the request body must be a JSON object, got {type(value).__name__}",
            400,
        )
    return value


def form_params(body: bytes) -> JSONObject:
    """Parse an ``application/x-www-form-urlencoded`` body; repeated fields become lists."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            errors="strict",
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejected(
            "invalid_body_form",
            "the request body is not UTF-8 application/x-www-form-urlencoded data",
            400,
        ) from None
    out: JSONObject = {}
    for key, value in pairs:
        if key in out:
            prev = out[key]
            out[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[key] = value
    return out


def raw_params(body: bytes) -> JSONObject:
    """Wrap the raw body: ``{"body": text}`` if UTF-8, else ``{"body_base64": ...}``."""
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(body).decode("ascii")}


_BUILTIN: dict[str, Callable[[bytes], JSONObject]] = {
    "json": json_params,
    "form": form_params,
    "raw": raw_params,
}


def load_extractor(target: str, trigger_id: str) -> Extractor:
    """Import ``module:callable`` (raise ``ConfigError`` naming *trigger_id* if impossible)."""
    where = f"webhook {trigger_id!r}: params extractor"
    obj = load_object(target, where)
    if not callable(obj):
        raise ConfigError(f"{where}: {target!r} is not callable")
    extractor: Extractor = obj
    return extractor


async def make_params(
    mode: str, extractor: Extractor | None, body: bytes, headers: Mapping[str, str]
) -> JSONObject:
    """Return run params for *body* under *mode*; raise ``WebhookRejected`` on bad input.

    An extractor is called as ``extractor(body, headers)`` (sync or async) and must return a
    JSON-serialisable mapping; anything it raises becomes 422 ``params_extractor_failed``.
    """
    if extractor is None:
        return _BUILTIN[mode](body)
    try:
        result = extractor(body, headers)
        if inspect.isawaitable(result):
            result = await result
        return ensure_json_object(result, "the params extractor's result")
    except WebhookRejected:
        raise
    except Exception as exc:
        raise WebhookRejected(
            "params_extractor_failed", f"the params extractor failed ({type(exc).__name__})", 422
        ) from None
