"""The bundled webhook trigger: signed deliveries become durable, deduplicated runs.

See ``docs/webhooks.md`` for the schemes, headers, error codes and limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stargraph.triggers.webhook.schemes import Delivery, sign, verify
from stargraph.triggers.webhook.spec import SCHEMES, WebhookSpec

if TYPE_CHECKING:
    from stargraph.triggers.webhook.trigger import WebhookTrigger

__all__ = ["SCHEMES", "Delivery", "WebhookSpec", "WebhookTrigger", "sign", "verify"]


def __getattr__(name: str) -> Any:
    """Import ``WebhookTrigger`` (and with it Quart) only when it is asked for."""
    if name == "WebhookTrigger":
        from stargraph.triggers.webhook.trigger import WebhookTrigger

        return WebhookTrigger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
