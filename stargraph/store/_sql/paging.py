"""Opaque keyset cursors for :meth:`RunStore.list_runs` (shared by the SQLite and Postgres stores).

A cursor names the last run of a page by ``(enqueued_at, run_id)``; the next page holds the runs
strictly older in that order. It is URL-safe base64 of ``v1:<microseconds>:<run_id>``.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from stargraph.errors import InvalidCursor
from stargraph.store._sql.micros import from_us, to_us

__all__ = ["decode_page_cursor", "encode_page_cursor"]

_PREFIX = "v1"


def encode_page_cursor(enqueued_at: datetime, run_id: str) -> str:
    """Return the opaque cursor that resumes listing after the run ``(enqueued_at, run_id)``."""
    raw = f"{_PREFIX}:{to_us(enqueued_at)}:{run_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_page_cursor(cursor: str) -> tuple[datetime, str]:
    """Return ``(enqueued_at, run_id)`` from a cursor, or raise :class:`InvalidCursor`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        prefix, micros, run_id = text.split(":", 2)
        if prefix != _PREFIX or not run_id:
            raise ValueError(prefix)
        return from_us(int(micros)), run_id
    except (ValueError, UnicodeError, binascii.Error, OverflowError):
        raise InvalidCursor(
            f"Invalid page cursor {cursor[:40]!r}; pass the next_cursor of a previous page "
            "unchanged, or omit it to start from the newest run"
        ) from None
