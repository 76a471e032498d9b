"""``QueueSpec``: one message-queue source, validated when built (or read from ``[[queue]]``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from stargraph._table import Reader, Table, init_fields
from stargraph.errors import ConfigError

__all__ = ["KINDS", "PARAMS_MODES", "QueueSpec"]

KINDS = ("redis-stream", "nats-jetstream", "amqp", "mqtt")
PARAMS_MODES = ("body", "envelope")
MAX_TRIGGER_ID = 200
#: URL schemes each kind accepts.
SCHEMES: dict[str, tuple[str, ...]] = {
    "redis-stream": ("redis", "rediss", "unix"),
    "nats-jetstream": ("nats", "tls"),
    "amqp": ("amqp", "amqps"),
    "mqtt": ("mqtt", "mqtts", "tcp"),
}


@attrs.frozen(kw_only=True)
class QueueSpec:
    """One queue trigger: where messages come from, what they run, how many are held unacked.

    ``url`` may hold credentials: it never appears in ``repr``, logs, errors or responses
    (``url_env`` names the variable it was read from, for messages). ``redeliver_seconds`` is
    how long an unacknowledged message stays with a consumer before another one may take it
    (Redis Streams ``XAUTOCLAIM`` idle time, JetStream ``ack_wait``).
    """

    trigger_id: str
    kind: str
    url: str = attrs.field(repr=False)
    source: str
    graph_id: str
    group: str = "stargraph"
    params: str = "body"
    max_in_flight: int = 256
    dead_letter: str | None = None
    max_body_bytes: int = 1024 * 1024
    redeliver_seconds: float = 30.0
    url_env: str | None = None

    def __attrs_post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_table(cls, table: Table, env: Mapping[str, str]) -> QueueSpec:
        """Build the spec from one ``[[queue]]`` table; errors name the file, the key and why.

        The URL is ``url`` (when it holds no secret) or the variable named by ``url_env``.
        """
        names = init_fields(cls, exclude=["url"])
        table.reject_unknown([*names, "url"])
        kwargs = table.read_fields(cls, names, _READERS)
        return table.build(cls, {**kwargs, "url": _url(table, env)})


_READERS: dict[str, Reader] = {
    "kind": lambda t, name: t.get_choice(name, KINDS),
    "params": lambda t, name: t.get_choice(name, PARAMS_MODES),
    "max_in_flight": lambda t, name: t.get_int(name, minimum=1),
    "max_body_bytes": lambda t, name: t.get_int(name, minimum=1),
    "redeliver_seconds": lambda t, name: t.get_number(name),
}


def _url(t: Table, env: Mapping[str, str]) -> str:
    has_url, has_env = "url" in t.data, "url_env" in t.data
    if has_url == has_env:
        raise t.error("url", "set exactly one of url and url_env (url_env for a URL with secrets)")
    if has_url:
        return str(t.get_str("url"))
    var = t.get_str("url_env")
    value = env.get(var)
    if not value:
        raise t.error("url_env", f"environment variable {var} is not set or empty")
    return value


def _fail(spec: QueueSpec, key: str, reason: str, value: Any) -> ConfigError:
    return ConfigError(f"queue {spec.trigger_id!r}: {key} {reason}, got {value!r:.120}")


def _validate(spec: QueueSpec) -> None:
    tid = spec.trigger_id
    if not isinstance(tid, str) or not tid.strip() or len(tid) > MAX_TRIGGER_ID:
        raise ConfigError(
            f"queue trigger_id must be a non-empty string of at most {MAX_TRIGGER_ID} "
            f"characters (it prefixes idempotency keys), got {tid!r:.80}"
        )
    if spec.kind not in KINDS:
        raise _fail(spec, "kind", f"must be one of {', '.join(KINDS)}", spec.kind)
    for key in ("source", "graph_id", "group"):
        value = getattr(spec, key)
        if not isinstance(value, str) or not value.strip():
            raise _fail(spec, key, "must be a non-empty string", value)
    if spec.params not in PARAMS_MODES:
        raise _fail(spec, "params", "must be 'body' or 'envelope'", spec.params)
    _validate_numbers(spec)
    if spec.dead_letter is not None and (
        not isinstance(spec.dead_letter, str) or not spec.dead_letter.strip()
    ):
        raise _fail(spec, "dead_letter", "must be a non-empty string when set", spec.dead_letter)
    _validate_url(spec)


def _validate_numbers(spec: QueueSpec) -> None:
    n = spec.max_in_flight
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 65_535:
        raise _fail(spec, "max_in_flight", "must be an integer from 1 to 65535", n)
    size = spec.max_body_bytes
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1 << 30:
        raise _fail(spec, "max_body_bytes", "must be an integer from 1 to 2**30", size)
    wait = spec.redeliver_seconds
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0.1 <= wait <= 86_400:
        raise _fail(spec, "redeliver_seconds", "must be a number from 0.1 to 86400", wait)


def _validate_url(spec: QueueSpec) -> None:
    """Check the scheme only: the rest of the URL may hold a password and is never shown."""
    where = f"url (from ${spec.url_env})" if spec.url_env else "url"
    if not isinstance(spec.url, str) or "://" not in spec.url:
        raise ConfigError(
            f"queue {spec.trigger_id!r}: {where} must be a URL such as "
            f"{SCHEMES[spec.kind][0]}://host:port (value not shown: it may hold a secret)"
        )
    scheme = spec.url.split("://", 1)[0].lower()
    if scheme not in SCHEMES[spec.kind]:
        raise ConfigError(
            f"queue {spec.trigger_id!r}: {where} scheme must be one of "
            f"{', '.join(SCHEMES[spec.kind])} for kind {spec.kind!r}, got {scheme!r}"
        )
