"""Read ``stargraph.toml`` with :mod:`tomllib` into a frozen :class:`StargraphConfig`.

``[scheduler]`` is read straight into :class:`~stargraph.scheduler.SchedulerSettings` and each
``[graphs.<id>]`` into a :class:`~stargraph.scheduler.RunPolicy`: the keys, types and defaults
are those classes' fields. Each trigger reads its own entries (``CronSpec.from_table``,
``WebhookSpec.from_table``, ``QueueSpec.from_table``); this module checks what spans entries
(unique ``trigger_id`` and webhook ``path``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from stargraph._table import Table, init_fields
from stargraph.config._model import (
    DEFAULT_TOKEN_ENV,
    GraphConfig,
    PluginsConfig,
    ServeConfig,
    StargraphConfig,
    StoreConfig,
)
from stargraph.errors import ConfigError
from stargraph.scheduler import RunPolicy, SchedulerSettings
from stargraph.triggers.cron.interval import IntervalSpec
from stargraph.triggers.cron.spec import CronSpec
from stargraph.triggers.fs.spec import FsSpec
from stargraph.triggers.queue.spec import QueueSpec
from stargraph.triggers.webhook.spec import WebhookSpec

__all__ = ["load_config", "parse_bind"]

BACKENDS = ("asyncio", "trio")
_TOP_KEYS = (
    "store", "serve", "scheduler", "graphs", "cron", "interval", "webhook", "fs", "queue",
    "plugins", "deps",
)  # fmt: skip
#: ``shutdown_grace`` is ``[serve] graceful_timeout``; ``retry_on`` has no TOML form.
_SCHEDULER_KEYS = init_fields(SchedulerSettings, exclude=["shutdown_grace"])
_POLICY_KEYS = init_fields(RunPolicy, exclude=["retry_on"])


def parse_bind(text: str, *, source: str = "bind") -> tuple[str, int]:
    """Split ``host:port`` (``[v6]:port`` for IPv6) or raise :class:`ConfigError`."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"{source}: expected HOST:PORT such as 127.0.0.1:8080, got {text!r}")
    return host, int(port)


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    webhooks: bool = True,
) -> StargraphConfig:
    """Read *path* (or return the defaults when ``None``) and apply the environment overrides.

    With ``webhooks=False`` the ``[[webhook]]`` entries are left out (``cfg.webhook == ()``) and
    their secrets are not read: for tools that only talk to the store, such as ``stargraph runs``.
    """
    env = os.environ if env is None else env
    if path is None:
        return _with_env(_parse({}, source="<defaults>", path=None, env=env), env)
    file = Path(path).resolve()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if not webhooks:
        data = {key: value for key, value in data.items() if key != "webhook"}
    return _with_env(_parse(data, source=str(path), path=file, env=env), env)


def _with_env(cfg: StargraphConfig, env: Mapping[str, str]) -> StargraphConfig:
    if store := env.get("STARGRAPH_STORE"):
        _check_store(store, "STARGRAPH_STORE")
        try:
            _check_sqlite(store)
        except ConfigError as exc:
            raise ConfigError(f"STARGRAPH_STORE: {exc}") from None
        cfg = attrs.evolve(cfg, store=StoreConfig(url=store))
    if bind := env.get("STARGRAPH_BIND"):
        parse_bind(bind, source="STARGRAPH_BIND")
        cfg = attrs.evolve(cfg, serve=attrs.evolve(cfg.serve, bind=bind))
    return cfg


def _check_store(url: str, source: str) -> str:
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ConfigError(
            f"{source}: store URL must start with sqlite:/// or postgresql://, got {url!r}"
        )
    return url


def _parse(
    data: Mapping[str, Any], *, source: str, path: Path | None, env: Mapping[str, str]
) -> StargraphConfig:
    root = Table(data, source=source, prefix="")
    root.reject_unknown(_TOP_KEYS)
    serve = _serve(root.table("serve"), env)
    cron_tables, webhook_tables = root.tables("cron"), root.tables("webhook")
    interval_tables = root.tables("interval")
    fs_tables = root.tables("fs")
    queue_tables = root.tables("queue")
    cfg = StargraphConfig(
        path=path,
        store=_store(root.table("store"), path),
        serve=serve,
        scheduler=_scheduler(root.table("scheduler"), serve),
        graphs=_graphs(root.table("graphs")),
        cron=tuple(CronSpec.from_table(t) for t in cron_tables),
        interval=tuple(IntervalSpec.from_table(t) for t in interval_tables),
        webhook=tuple(WebhookSpec.from_table(t, env) for t in webhook_tables),
        fs=tuple(FsSpec.from_table(t) for t in fs_tables),
        queue=tuple(QueueSpec.from_table(t, env) for t in queue_tables),
        plugins=_plugins(root.table("plugins")),
        deps=_deps(root.table("deps")),
    )
    _unique(
        [*cron_tables, *interval_tables, *webhook_tables, *fs_tables, *queue_tables],
        "trigger_id",
        "trigger",
    )
    _unique(webhook_tables, "path", "webhook")
    return cfg


def _unique(tables: Sequence[Table], name: str, noun: str) -> None:
    """The one check that *name* differs between entries (``trigger_id`` across all kinds)."""
    first: dict[Any, Table] = {}
    for t in tables:
        value = t.data.get(name)
        if value in first:
            raise t.error(
                name,
                f"duplicate value {value!r}: {name} {value!r} is used by more than one {noun} "
                f"(first by {first[value].prefix}); each entry needs its own",
            )
        first[value] = t


def _store(t: Table, path: Path | None) -> StoreConfig:
    t.reject_unknown(("url",))
    url = t.get_str("url", StoreConfig().url)
    try:
        _check_store(url, t.key("url"))
    except ConfigError as exc:
        raise t.error("url", str(exc).split(": ", 1)[1]) from None
    rest = url.removeprefix("sqlite:///")
    if path is not None and rest != url and not rest.startswith("/") and rest != ":memory:":
        url = "sqlite:///" + str(path.parent / rest)  # relative to the config file's folder
    try:
        _check_sqlite(url)
    except ConfigError as exc:
        raise t.error("url", str(exc)) from None
    return StoreConfig(url=url)


def _check_sqlite(url: str) -> None:
    """Raise ConfigError for a bad SQLite URL option or a database folder that does not exist."""
    if not url.startswith("sqlite:///"):
        return
    from stargraph.store.sqlite.store import parse_sqlite_url

    db = parse_sqlite_url(url).path
    folder = Path(db).parent
    if db != ":memory:" and not folder.is_dir():
        raise ConfigError(
            f"the folder {str(folder)!r} of the SQLite database does not exist; create it "
            "(Stargraph creates the file, not its folder)"
        )


def _deps(t: Table) -> dict[str, Any]:
    from stargraph.runtime import RESERVED_DEPS

    for key in t.data:
        if key in RESERVED_DEPS:
            raise t.error(
                key,
                f"is reserved for the runtime ({', '.join(sorted(RESERVED_DEPS))}); rename it",
            )
    return dict(t.data)


def _serve(t: Table, env: Mapping[str, str]) -> ServeConfig:
    d = ServeConfig()
    t.reject_unknown(attrs.fields_dict(ServeConfig).keys() - {"api_token"})
    bind = t.get_str("bind", d.bind)
    try:
        parse_bind(bind)
    except ConfigError:
        raise t.error("bind", f"expected HOST:PORT such as 127.0.0.1:8080, got {bind!r}") from None
    token_env = t.get_str("api_token_env", None)
    raw = env.get(token_env or DEFAULT_TOKEN_ENV) or None
    token = raw.strip() if raw else None
    if token_env and raw is None:
        raise t.error("api_token_env", f"environment variable {token_env} is not set or empty")
    if raw is not None and not token:
        raise t.error(
            "api_token_env",
            f"environment variable {token_env or DEFAULT_TOKEN_ENV} holds only whitespace; "
            "set a real token (or unset it)",
        )
    return ServeConfig(
        bind=bind,
        backend=t.get_choice("backend", BACKENDS, d.backend),
        graceful_timeout=t.get_number("graceful_timeout", d.graceful_timeout, positive=False),
        api_token_env=token_env or (DEFAULT_TOKEN_ENV if token else None),
        api_token=token,
        allow_insecure_bind=t.get_bool("allow_insecure_bind", False),
    )


def _scheduler(t: Table, serve: ServeConfig) -> SchedulerSettings:
    if "shutdown_grace" in t.data:
        raise t.error("shutdown_grace", "set [serve] graceful_timeout (it is the drain grace)")
    t.reject_unknown(_SCHEDULER_KEYS)
    kwargs = t.read_fields(SchedulerSettings, _SCHEDULER_KEYS)
    return t.build(SchedulerSettings, {**kwargs, "shutdown_grace": serve.graceful_timeout})


def _graphs(t: Table) -> tuple[GraphConfig, ...]:
    out = []
    for graph_id in t.data:
        g = t.table(graph_id)
        g.reject_unknown(["target", *_POLICY_KEYS])
        target = g.get_str("target")
        if ":" not in target:
            raise g.error("target", f"must be 'module:callable', got {target!r}")
        policy = g.build(RunPolicy, g.read_fields(RunPolicy, _POLICY_KEYS))
        out.append(GraphConfig(graph_id=graph_id, target=target, policy=policy))
    return tuple(out)


def _plugins(t: Table) -> PluginsConfig:
    t.reject_unknown(("disable",))
    return PluginsConfig(disable=t.str_list("disable"))
