"""Output for people (aligned tables, ``key: value`` blocks) and for scripts (``--json``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["print_json", "print_record", "print_run", "print_table"]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def print_json(value: Any) -> None:
    """Print *value* as indented JSON."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> None:
    """Print *rows* as an aligned table; *columns* are ``(key, HEADER)`` pairs."""
    if not rows:
        sys.stdout.write("(none)\n")
        return
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    headers = [header for _, header in columns]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    for line in (headers, *cells):
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        sys.stdout.write("\n")


def print_record(record: Mapping[str, Any]) -> None:
    """Print one record as aligned ``key: value`` lines."""
    width = max(len(key) for key in record)
    for key, value in record.items():
        sys.stdout.write(f"{key.ljust(width)}  {_cell(value)}\n")


def print_run(view: Mapping[str, Any]) -> None:
    """Print a run (``run_to_json`` with attempts): fields, then each attempt and traceback."""
    error = view.get("error")
    attempts = view.get("attempts") or []
    fields = {k: v for k, v in view.items() if k not in {"attempts", "error"}}
    if error is not None:
        fields["error"] = f"{error['type']}: {error['message']}"
    print_record(fields)
    for item in attempts:
        line = f"\nattempt {item['number']}: {item['outcome']}"
        line += f" (started {_cell(item['started_at'])}, finished {_cell(item['finished_at'])})"
        sys.stdout.write(line + "\n")
        err = item.get("error")
        if err is not None:
            sys.stdout.write(f"  {err['type']}: {err['message']}\n")
            if err.get("traceback"):
                sys.stdout.write("  " + err["traceback"].rstrip("\n").replace("\n", "\n  ") + "\n")
