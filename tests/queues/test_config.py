"""``[[queue]]`` tables and ``QueueSpec``: every invalid value is a ConfigError naming the
trigger (or file and key) and the value; a URL from ``url_env`` never appears in an error."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import attrs
import pytest

from stargraph import Graph, Runtime
from stargraph.config import load_config
from stargraph.errors import ConfigError
from stargraph.triggers.queue import QueueSpec
from stargraph.triggers.queue.core import Delivery, Poison, decode, idempotency_key

SECRET_URL = "amqp://user:hunter2-secret@broker.internal:5672/%2F"
GOOD = """
[graphs.on_order]
target = "mod:fn"
[[queue]]
trigger_id = "queue:orders"
kind = "amqp"
url_env = "ORDERS_BROKER_URL"
source = "orders"
group = "stargraph"
graph_id = "on_order"
params = "envelope"
max_in_flight = 128
dead_letter = "orders.dead"
"""


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Any:
    path = tmp_path / "stargraph.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(path, env={"ORDERS_BROKER_URL": SECRET_URL} if env is None else env)


def test_the_issue_table_parses_into_a_queue_spec(tmp_path: Path) -> None:
    cfg = _load(tmp_path, GOOD)
    [spec] = cfg.queue
    assert spec == QueueSpec(
        trigger_id="queue:orders",
        kind="amqp",
        url=SECRET_URL,
        url_env="ORDERS_BROKER_URL",
        source="orders",
        group="stargraph",
        graph_id="on_order",
        params="envelope",
        max_in_flight=128,
        dead_letter="orders.dead",
    )
    assert "hunter2" not in repr(spec)
    assert cfg.runtime_deps()["queue_specs"] == [spec]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('kind = "amqp"', 'kind = "kafka"', "queue[0].kind: must be one of redis-stream"),
        ('params = "envelope"', 'params = "raw"', "queue[0].params: must be one of body, envelope"),
        ("max_in_flight = 128", "max_in_flight = 0", "queue[0].max_in_flight: must be at least 1"),
        (
            "max_in_flight = 128",
            'max_in_flight = "x"',
            "queue[0].max_in_flight: must be an integer",
        ),
        ('source = "orders"', 'source = ""', "queue[0].source: must not be empty"),
        ('group = "stargraph"', 'group = "g"\ncolour = "red"', "queue[0].colour: unknown key"),
        ('graph_id = "on_order"', "", "queue[0].graph_id: is required"),
        (
            'dead_letter = "orders.dead"',
            "dead_letter = 3",
            "queue[0].dead_letter: must be a string",
        ),
    ],
)
def test_each_bad_value_names_the_key_and_value(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=r"stargraph\.toml: ") as info:
        _load(tmp_path, GOOD.replace(old, new))
    assert expected in str(info.value)


def test_url_env_unset_or_both_url_forms(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"queue\[0\]\.url_env: environment variable "):
        _load(tmp_path, GOOD, env={})
    both = GOOD.replace('url_env = "ORDERS_BROKER_URL"', 'url_env = "X"\nurl = "amqp://h"')
    with pytest.raises(ConfigError, match="exactly one of url and url_env"):
        _load(tmp_path, both)


def test_a_bad_url_from_the_environment_is_never_shown(tmp_path: Path) -> None:
    leaky = "redis://user:hunter2-secret@host:6379/0"
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, GOOD, env={"ORDERS_BROKER_URL": leaky})
    message = str(info.value)
    assert "'queue:orders'" in message and "$ORDERS_BROKER_URL" in message
    assert "'redis'" in message and "hunter2" not in message


def test_trigger_ids_are_unique_across_kinds(tmp_path: Path) -> None:
    text = GOOD + '[[cron]]\ntrigger_id = "queue:orders"\nschedule = "* * * * *"\n'
    text += 'graph_id = "on_order"\n'
    with pytest.raises(ConfigError, match="duplicate value 'queue:orders'"):
        _load(tmp_path, text)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("trigger_id", " ", "queue trigger_id must be a non-empty string"),
        (
            "max_in_flight",
            70_000,
            "'q': max_in_flight must be an integer from 1 to 65535, got 70000",
        ),
        ("redeliver_seconds", 0, "'q': redeliver_seconds must be a number from 0.1"),
        ("max_body_bytes", True, "'q': max_body_bytes must be an integer"),
        ("url", "nats://h:4222", "'q': url scheme must be one of redis, rediss, unix"),
    ],
)
def test_queue_spec_for_python_users_validates_too(field: str, value: Any, expected: str) -> None:
    good = QueueSpec(trigger_id="q", kind="redis-stream", url="redis://h", source="s", graph_id="g")
    with pytest.raises(ConfigError) as info:
        attrs.evolve(good, **{field: value})
    assert expected in str(info.value)


async def test_an_unknown_graph_is_refused_at_start(sqlite_url: str) -> None:
    spec = QueueSpec(trigger_id="q", kind="redis-stream", url="redis://h", source="s", graph_id="x")
    graph = Graph(graph_id="g", fn=lambda params, ctx: None)
    async with Runtime(sqlite_url, graphs=[graph], deps={"queue_specs": [spec]}) as rt:
        [status] = [s for s in rt.host.statuses() if s.name.endswith(":redis-stream")]
    assert status.error is not None and "graph_id 'x' is not registered" in status.error


def test_keys_and_decoding() -> None:
    spec = QueueSpec(
        trigger_id="q", kind="mqtt", url="mqtt://h", source="t", graph_id="g", max_body_bytes=10
    )
    assert idempotency_key("q", "1-0") == "q:1-0"
    long = idempotency_key("q", "x" * 500)
    assert long.startswith("q:sha256:") and len(long) < 100
    assert decode(Delivery(message_id="m", body=b'{"a": 1}'), spec) == {"a": 1}
    assert decode(Delivery(message_id="m", body=b'{"a": 100000}'), spec) == Poison("too_big")
    assert decode(Delivery(message_id="m", body=b"[1]"), spec) == Poison("not_object")
    assert decode(Delivery(message_id="m", body=b"nope"), spec) == Poison("not_json")


@pytest.mark.parametrize("name", ["redis", "amqp", "mqtt", "nats"])
def test_the_example_configs_load(name: str) -> None:
    folder = Path(__file__).parents[2] / "examples" / "queues"
    env = {"ORDERS_BROKER_URL": _EXAMPLE_URLS[name]}
    cfg = load_config(folder / f"{name}.toml", env=env)
    [spec] = cfg.queue
    assert spec.trigger_id == "queue:orders" and spec.graph_id == "on_order"
    [graph] = cfg.load_graphs()
    assert graph.graph_id == "on_order"


_EXAMPLE_URLS = {
    "redis": "redis://127.0.0.1:6379/0",
    "amqp": "amqp://guest:guest@127.0.0.1:5672/%2F",
    "mqtt": "mqtt://127.0.0.1:1883",
    "nats": "nats://127.0.0.1:4222",
}
