"""The bundled webhook trigger: signed deliveries become durable, deduplicated runs.

See ``docs/webhooks.md`` for the schemes, headers, error codes and limits.
"""

from __future__ import annotations

from stargraph.triggers.webhook.schemes import Delivery, sign, verify
from stargraph.triggers.webhook.spec import SCHEMES, WebhookSpec
from stargraph.triggers.webhook.trigger import WebhookTrigger

__all__ = ["SCHEMES", "Delivery", "WebhookSpec", "WebhookTrigger", "sign", "verify"]
