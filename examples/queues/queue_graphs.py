"""The graph every queue example runs: log the order it was given."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("examples.queues")


def on_order(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Handle one order message (``params`` is the JSON body of the message)."""
    log.warning("order %s for %s", params.get("order_id"), params.get("customer"))
    return {"handled": params.get("order_id")}
