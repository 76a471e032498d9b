"""The ``stargraph.toml`` file: parsed with :mod:`tomllib` into a frozen :class:`StargraphConfig`.

Sections (DESIGN §7): ``[store]``, ``[serve]``, ``[scheduler]``, ``[graphs.<id>]``, ``[[cron]]``,
``[[webhook]]``, ``[plugins]``, ``[deps]``. The environment overrides the store URL
(``STARGRAPH_STORE``) and the bind address (``STARGRAPH_BIND``). Secrets (the API token, webhook
secrets) are read from the environment variables the file names, never from the file. Every
invalid value raises :class:`~stargraph.errors.ConfigError` naming the file, key and reason.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from stargraph._config_table import Table
from stargraph._config_triggers import parse_cron, parse_webhooks
from stargraph.errors import ConfigError

if TYPE_CHECKING:
    from stargraph.runtime import Runtime
    from stargraph.scheduler import Graph, SchedulerSettings
    from stargraph.triggers.cron import CronSpec
    from stargraph.triggers.webhook import WebhookSpec

__all__ = [
    "DEFAULT_TOKEN_ENV",
    "GraphConfig",
    "PluginsConfig",
    "SchedulerConfig",
    "ServeConfig",
    "StargraphConfig",
    "StoreConfig",
    "build_runtime",
    "load_config",
    "parse_bind",
]

DEFAULT_TOKEN_ENV = "STARGRAPH_API_TOKEN"
BACKENDS = ("asyncio", "trio")
_TOP_KEYS = ("store", "serve", "scheduler", "graphs", "cron", "webhook", "plugins", "deps")


@attrs.frozen(kw_only=True)
class StoreConfig:
    """``[store]``: where runs live."""

    url: str = "sqlite:///stargraph.db"


@attrs.frozen(kw_only=True)
class ServeConfig:
    """``[serve]``: the HTTP server. ``api_token`` is read from ``api_token_env``."""

    bind: str = "127.0.0.1:8080"
    backend: str = "asyncio"
    graceful_timeout: float = 10.0
    api_token_env: str | None = None
    api_token: str | None = attrs.field(default=None, repr=False)
    allow_insecure_bind: bool = False


@attrs.frozen(kw_only=True)
class SchedulerConfig:
    """``[scheduler]``: run execution limits."""

    max_concurrent_runs: int = 16
    lease_seconds: float = 30.0
    retention_days: float = 7.0
    intake_capacity: int = 10_000
    poll_interval: float = 1.0


@attrs.frozen(kw_only=True)
class GraphConfig:
    """``[graphs.<graph_id>]``: a ``module:callable`` target and its run policy."""

    graph_id: str
    target: str
    concurrency: int | None = None
    timeout: float | None = None
    max_attempts: int = 1
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    jitter: float = 0.1


@attrs.frozen(kw_only=True)
class PluginsConfig:
    """``[plugins]``: registered plugin names to leave out."""

    disable: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class StargraphConfig:
    """One whole configuration; ``path`` is the file it came from (``None`` for defaults)."""

    path: Path | None = None
    store: StoreConfig = StoreConfig()
    serve: ServeConfig = ServeConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    graphs: tuple[GraphConfig, ...] = ()
    cron: tuple[CronSpec, ...] = ()
    webhook: tuple[WebhookSpec, ...] = ()
    plugins: PluginsConfig = PluginsConfig()
    deps: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def folder(self) -> Path:
        """The folder graph targets are imported from (the config's, or the cwd)."""
        return self.path.parent if self.path else Path.cwd()

    def scheduler_settings(self) -> SchedulerSettings:
        """Return the scheduler's settings (the drain grace is ``serve.graceful_timeout``)."""
        from stargraph.scheduler import SchedulerSettings

        s = self.scheduler
        return SchedulerSettings(
            max_concurrent_runs=s.max_concurrent_runs,
            lease_seconds=s.lease_seconds,
            retention_days=s.retention_days,
            intake_capacity=s.intake_capacity,
            shutdown_grace=self.serve.graceful_timeout,
            poll_interval=s.poll_interval,
        )

    def runtime_deps(self) -> dict[str, Any]:
        """Return ``[deps]`` plus ``cron_specs`` and ``webhook_specs`` for the triggers."""
        return dict(self.deps, cron_specs=list(self.cron), webhook_specs=list(self.webhook))

    def load_graphs(self) -> list[Graph]:
        """Import every graph target (the config's folder on ``sys.path``)."""
        from stargraph._config_graphs import load_graphs

        return load_graphs(self)


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
        cfg = attrs.evolve(cfg, store=StoreConfig(url=_check_store(store, "STARGRAPH_STORE")))
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
    cfg = StargraphConfig(
        path=path,
        store=_store(root.table("store"), path),
        serve=_serve(root.table("serve"), env),
        scheduler=_scheduler(root.table("scheduler")),
        graphs=_graphs(root.table("graphs")),
        cron=parse_cron(root.tables("cron")),
        webhook=parse_webhooks(root.tables("webhook"), env),
        plugins=_plugins(root.table("plugins")),
        deps=dict(root.table("deps").data),
    )
    ids = [s.trigger_id for s in cfg.cron] + [s.trigger_id for s in cfg.webhook]
    if dupes := sorted({i for i in ids if ids.count(i) > 1}):
        raise ConfigError(f"{source}: trigger_id {dupes[0]!r} is used by more than one trigger")
    return cfg


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
    return StoreConfig(url=url)


def _serve(t: Table, env: Mapping[str, str]) -> ServeConfig:
    d = ServeConfig()
    t.reject_unknown(attrs.fields_dict(ServeConfig).keys() - {"api_token"})
    bind = t.get_str("bind", d.bind)
    try:
        parse_bind(bind)
    except ConfigError:
        raise t.error("bind", f"expected HOST:PORT such as 127.0.0.1:8080, got {bind!r}") from None
    token_env = t.get_str("api_token_env", None)
    token = env.get(token_env or DEFAULT_TOKEN_ENV) or None
    if token_env and token is None:
        raise t.error("api_token_env", f"environment variable {token_env} is not set or empty")
    return ServeConfig(
        bind=bind,
        backend=t.get_choice("backend", BACKENDS, d.backend),
        graceful_timeout=t.get_number("graceful_timeout", d.graceful_timeout, positive=False),
        api_token_env=token_env or (DEFAULT_TOKEN_ENV if token else None),
        api_token=token,
        allow_insecure_bind=t.get_bool("allow_insecure_bind", False),
    )


def _scheduler(t: Table) -> SchedulerConfig:
    d = SchedulerConfig()
    t.reject_unknown(attrs.fields_dict(SchedulerConfig))
    return SchedulerConfig(
        max_concurrent_runs=t.get_int("max_concurrent_runs", d.max_concurrent_runs, minimum=1),
        lease_seconds=t.get_number("lease_seconds", d.lease_seconds),
        retention_days=t.get_number("retention_days", d.retention_days),
        intake_capacity=t.get_int("intake_capacity", d.intake_capacity, minimum=1),
        poll_interval=t.get_number("poll_interval", d.poll_interval),
    )


def _graphs(t: Table) -> tuple[GraphConfig, ...]:
    out = []
    for graph_id in t.data:
        g = t.table(graph_id)
        g.reject_unknown(f for f in attrs.fields_dict(GraphConfig) if f != "graph_id")
        target = g.get_str("target")
        if ":" not in target:
            raise g.error("target", f"must be 'module:callable', got {target!r}")
        out.append(
            GraphConfig(
                graph_id=graph_id,
                target=target,
                concurrency=g.get_int("concurrency", None, minimum=1),
                timeout=g.get_number("timeout", None),
                max_attempts=g.get_int("max_attempts", 1, minimum=1),
                backoff_base=g.get_number("backoff_base", 1.0, positive=False),
                backoff_max=g.get_number("backoff_max", 300.0, positive=False),
                jitter=g.get_number("jitter", 0.1, positive=False),
            )
        )
    return tuple(out)


def _plugins(t: Table) -> PluginsConfig:
    t.reject_unknown(("disable",))
    return PluginsConfig(disable=t.str_list("disable"))


def _check_trigger_graphs(cfg: StargraphConfig, known: list[str]) -> None:
    entries = [("cron", i, s.graph_id) for i, s in enumerate(cfg.cron)]
    entries += [("webhook", i, s.graph_id) for i, s in enumerate(cfg.webhook)]
    for section, index, graph_id in entries:
        if graph_id not in known:
            raise ConfigError(
                f"{cfg.path or '<config>'}: {section}[{index}].graph_id: unknown graph "
                f"{graph_id!r}; add a [graphs.{graph_id}] table (known: "
                f"{', '.join(known) or 'none'})"
            )


def build_runtime(cfg: StargraphConfig) -> Runtime:
    """Return a :class:`~stargraph.runtime.Runtime` (not yet entered) built from *cfg*.

    Imports the graph targets, adds the ``stargraph.graphs`` entry points, and checks that
    every ``[[cron]]`` and ``[[webhook]]`` entry names a known graph.
    """
    from stargraph.runtime import Runtime
    from stargraph.scheduler import GraphRegistry

    registry = GraphRegistry(cfg.load_graphs())
    registry.load_entry_points()
    _check_trigger_graphs(cfg, registry.ids())
    return Runtime(
        cfg.store.url,
        graphs=registry,
        settings=cfg.scheduler_settings(),
        deps=cfg.runtime_deps(),
        disable_plugins=cfg.plugins.disable,
        graph_entry_points=False,
    )
