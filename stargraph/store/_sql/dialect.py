"""What differs between the SQL stores below the hand-tuned statements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import attrs

from stargraph.store.base import Attempt, Run, TriggerState

__all__ = ["Dialect"]


@attrs.frozen(kw_only=True)
class Dialect:
    """Placeholder style, time codec and row decoders of one SQL backend."""

    #: The parameter placeholder: ``?`` (sqlite3) or ``%s`` (psycopg).
    mark: str
    #: An aware UTC datetime as the database stores it (integer µs, or ``timestamptz`` as is).
    time: Callable[[datetime], Any]
    #: A stored instant (or NULL) as an aware UTC datetime (or ``None``).
    read_time: Callable[[Any], datetime | None]
    #: Decode one row selected with :data:`~stargraph.store._sql.text.RUN_COLUMNS`.
    run_from_row: Callable[[Sequence[Any]], Run]
    #: Decode one row selected with :data:`~stargraph.store._sql.text.TRIGGER_COLUMNS`.
    trigger_from_row: Callable[[Sequence[Any]], TriggerState]
    #: Decode one row selected with :data:`~stargraph.store._sql.text.ATTEMPT_COLUMNS`.
    attempt_from_row: Callable[[Sequence[Any]], Attempt]
