"""Request input checks shared by the API handlers: JSON bodies, text fields, query integers.

Every refusal is an :class:`ApiError` 400 naming the field, so no input reaches a handler (or
the store) that could raise a 500 there: JSON nested deeper than :data:`MAX_JSON_DEPTH`
(``RecursionError`` in the parser or the serialiser), strings holding a lone surrogate (not
encodable as UTF-8), NUL in a name or key (refused by PostgreSQL), non-ASCII digits.
"""

from __future__ import annotations

import json
import re
from typing import Any

from quart import request

from stargraph.serve._errors import ApiError

__all__ = [
    "MAX_JSON_DEPTH",
    "ascii_int",
    "check_text",
    "json_object_body",
    "optional_json_object_body",
]

MAX_JSON_DEPTH = 100
"""The deepest nesting of objects and arrays a request body may hold."""

_ASCII_INT = re.compile(r"[0-9]{1,9}")


def _bad_text(text: str) -> str | None:
    """Why *text* cannot be stored, or ``None`` when it can."""
    if "\x00" in text:
        return "holds a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "holds a lone surrogate (not valid Unicode)"
    return None


def check_text(text: str, field: str, code: str = "bad_body") -> str:
    """Return *text*, or raise 400 *code* if it holds NUL or a lone surrogate."""
    if (why := _bad_text(text)) is not None:
        raise ApiError(400, code, f"{field} {why}")
    return text


def _check_unicode(text: str, field: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(
                400, "bad_body", f"{field} holds a lone surrogate (not valid Unicode)"
            ) from None


def _walk(value: Any, where: str, depth: int) -> None:
    """Raise 400 if *value* nests too deep or holds a string that is not valid Unicode.

    (NUL is refused in the fields that name things, by :func:`check_text`, not in params.)
    """
    if isinstance(value, str):
        _check_unicode(value, where)
        return
    if not isinstance(value, dict | list):
        return
    if depth >= MAX_JSON_DEPTH:
        raise ApiError(
            400, "bad_json", f"the body nests deeper than {MAX_JSON_DEPTH} levels (at {where})"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(key, f"a key in {where}")
            _walk(item, f"{where}.{key}"[:120], depth + 1)
    else:
        for index, item in enumerate(value):
            _walk(item, f"{where}[{index}]"[:120], depth + 1)


async def optional_json_object_body() -> dict[str, Any] | None:
    """The body as a JSON object, or ``None`` when it is empty (or blank)."""
    raw = await request.get_data(as_text=False)
    return _parse_object(raw) if raw.strip() else None


async def json_object_body() -> dict[str, Any]:
    """The body as a JSON object (400 ``bad_json``/``bad_body`` otherwise)."""
    return _parse_object(await request.get_data(as_text=False))


def _parse_object(raw: str | bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_json", f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(
            400, "bad_json", f"the body nests deeper than {MAX_JSON_DEPTH} levels"
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_body", "the request body must be a JSON object")
    _walk(body, "body", 0)
    return body


def ascii_int(text: str, name: str, low: int, high: int, code: str) -> int:
    """Parse *text* as an integer written in ASCII digits within ``low..high`` (400 *code*)."""
    if not _ASCII_INT.fullmatch(text) or not low <= int(text) <= high:
        raise ApiError(
            400, code, f"{name} must be an integer {low}..{high} in ASCII digits, got {text!r:.40}"
        )
    return int(text)
