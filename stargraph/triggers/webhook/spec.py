"""``WebhookSpec``: one signed webhook endpoint, validated when it is built (or read from TOML)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from stargraph._table import Reader, Table, init_fields
from stargraph.errors import ConfigError

__all__ = ["PARAMS_MODES", "SCHEMES", "WebhookSpec"]

SCHEMES = ("stargraph", "standard-webhooks", "github", "stripe", "slack")
PARAMS_MODES = ("json", "form", "raw")
MAX_TRIGGER_ID = 200
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
_API_PATH = re.compile(r"/(healthz|readyz|metrics|openapi\.json)|/v1/(runs|triggers|plugins)(/.*)?")
"""The server's own routes: a webhook path among them would be unreachable (or shadow one)."""


def _api_route(path: str) -> str | None:
    """Why *path* cannot be a webhook path (it is an API route), or ``None``."""
    if not _API_PATH.fullmatch(path.rstrip("/") or "/"):
        return None
    return (
        f"{path!r} is a route of the HTTP API itself, so the webhook would never be reached; "
        "choose another path, e.g. /hooks/<name>"
    )


def _to_secrets(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen(kw_only=True)
class WebhookSpec:
    """One webhook endpoint: where it listens, how deliveries are verified, what runs.

    ``secrets`` lists the current secret first, then previous ones still accepted during a
    rotation; it never appears in ``repr``, logs or responses.
    """

    trigger_id: str
    path: str
    graph_id: str
    scheme: str = "stargraph"
    secrets: tuple[str, ...] = attrs.field(converter=_to_secrets, repr=False)
    tolerance_seconds: int = 300
    max_body_bytes: int = 1024 * 1024
    params: str = "json"

    def __attrs_post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_table(cls, table: Table, env: Mapping[str, str]) -> WebhookSpec:
        """Build the spec from one ``[[webhook]]`` table; errors name the file, the key and why.

        The keys are the fields above, except that the secrets are named by ``secret_env``
        (required) and ``previous_secret_env``, read from *env* and never from the file.
        """
        names = init_fields(cls, exclude=["secrets"])
        table.reject_unknown([*names, *_SECRET_KEYS])
        if not table.get_str("path").startswith("/"):
            raise table.error("path", f"must start with '/', got {table.data['path']!r}")
        if why := _api_route(table.data["path"]):
            raise table.error("path", why)
        secrets = [_secret(table, key, env, key == "secret_env") for key in _SECRET_KEYS]
        kwargs = table.read_fields(cls, names, _READERS)
        return table.build(cls, {**kwargs, "secrets": tuple(s for s in secrets if s)})


_SECRET_KEYS = ("secret_env", "previous_secret_env")
_READERS: dict[str, Reader] = {
    "scheme": lambda t, name: t.get_choice(name, SCHEMES),
    "tolerance_seconds": lambda t, name: t.get_int(name, minimum=1),
    "max_body_bytes": lambda t, name: t.get_int(name, minimum=1),
}


def _secret(t: Table, name: str, env: Mapping[str, str], required: bool) -> str | None:
    var = t.get_str(name) if required else t.get_str(name, None)
    if var is None:
        return None
    value = env.get(var)
    if not value:
        raise t.error(name, f"environment variable {var} is not set or empty")
    return value


def _fail(spec: WebhookSpec, key: str, reason: str) -> ConfigError:
    return ConfigError(f"webhook {spec.trigger_id!r}: {key} {reason}")


def _validate(spec: WebhookSpec) -> None:
    tid = spec.trigger_id
    if not isinstance(tid, str) or not tid.strip() or len(tid) > MAX_TRIGGER_ID:
        raise ConfigError(
            f"webhook trigger_id must be a non-empty string of at most "
            f"{MAX_TRIGGER_ID} characters (it prefixes idempotency keys), got "
            f"{tid!r:.80}"
        )
    if not isinstance(spec.path, str) or not _PATH.match(spec.path):
        raise _fail(
            spec,
            "path",
            f"must start with '/' and hold only URL path characters "
            f"(no '<', '>', '?', '#' or spaces), got {spec.path!r}",
        )
    if why := _api_route(spec.path):
        raise _fail(spec, "path", why)
    if not isinstance(spec.graph_id, str) or not spec.graph_id.strip():
        raise _fail(spec, "graph_id", f"must be a non-empty string, got {spec.graph_id!r}")
    if spec.scheme not in SCHEMES:
        raise _fail(spec, "scheme", f"must be one of {', '.join(SCHEMES)}, got {spec.scheme!r}")
    _validate_numbers(spec)
    _validate_params(spec)
    _validate_secrets(spec)


def _validate_numbers(spec: WebhookSpec) -> None:
    tol = spec.tolerance_seconds
    if isinstance(tol, bool) or not isinstance(tol, int) or not 1 <= tol <= 86_400:
        raise _fail(spec, "tolerance_seconds", f"must be an integer from 1 to 86400, got {tol!r}")
    size = spec.max_body_bytes
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1 << 30:
        raise _fail(spec, "max_body_bytes", f"must be an integer from 1 to 2**30, got {size!r}")


def _validate_params(spec: WebhookSpec) -> None:
    mode = spec.params
    if not isinstance(mode, str) or (mode not in PARAMS_MODES and not _TARGET.match(mode)):
        raise _fail(
            spec, "params", f"must be 'json', 'form', 'raw' or 'module:callable', got {mode!r}"
        )


def _validate_secrets(spec: WebhookSpec) -> None:
    from stargraph.triggers.webhook.schemes import secret_key  # avoid an import cycle

    if not spec.secrets:
        raise _fail(spec, "secrets", "is empty; set secret_env to a variable holding the secret")
    for index, secret in enumerate(spec.secrets):
        if not isinstance(secret, str) or not secret:
            raise _fail(
                spec,
                "secrets",
                f"entry {index} is empty or not a string; every "
                "configured secret variable must hold a value",
            )
        try:
            secret_key(spec.scheme, secret)
        except ValueError as exc:
            raise _fail(spec, "secrets", f"entry {index}: {exc}") from None
