"""WebhookSpec validation and the params extractors (pure, no server)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from stargraph.errors import ConfigError, WebhookRejected
from stargraph.triggers.webhook import WebhookSpec
from stargraph.triggers.webhook.params import load_extractor, make_params

SECRET = "very-secret-value-123"


def _spec(**kw: Any) -> WebhookSpec:
    base: dict[str, Any] = {
        "trigger_id": "webhook:t",
        "path": "/hooks/t",
        "graph_id": "g",
        "secrets": (SECRET,),
    }
    base.update(kw)
    return WebhookSpec(**base)


def test_defaults_and_repr_hides_secrets(caplog: pytest.LogCaptureFixture) -> None:
    spec = _spec(secrets=[SECRET, "old-secret-456"])
    assert spec.scheme == "stargraph" and spec.tolerance_seconds == 300
    assert spec.max_body_bytes == 1024 * 1024 and spec.params == "json"
    assert spec.secrets == (SECRET, "old-secret-456")
    assert SECRET not in repr(spec) and "old-secret-456" not in repr(spec)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("t").info("spec %s %r", spec, spec)
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"scheme": "paypal"}, "scheme"),
        ({"path": "hooks"}, "path"),
        ({"path": "/hooks/<id>"}, "path"),
        ({"path": "/a b"}, "path"),
        ({"graph_id": ""}, "graph_id"),
        ({"secrets": ()}, "secrets"),
        ({"secrets": ("",)}, "secrets"),
        ({"secrets": (SECRET, "")}, "entry 1"),
        ({"scheme": "standard-webhooks", "secrets": ("whsec_***",)}, "base64"),
        ({"tolerance_seconds": 0}, "tolerance_seconds"),
        ({"tolerance_seconds": True}, "tolerance_seconds"),
        ({"max_body_bytes": 0}, "max_body_bytes"),
        ({"params": "yaml"}, "params"),
        ({"trigger_id": " "}, "trigger_id"),
        ({"trigger_id": "w" * 201}, "trigger_id"),
    ],
)
def test_invalid_fields_raise_config_error_naming_the_trigger(
    kw: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle) as exc:
        _spec(**kw)
    if "trigger_id" not in kw:
        assert "webhook:t" in str(exc.value)
    assert SECRET not in str(exc.value)


def test_single_string_secret_is_one_secret() -> None:
    assert _spec(secrets=SECRET).secrets == (SECRET,)


def test_standard_webhooks_secret_without_prefix_is_base64() -> None:
    assert _spec(scheme="standard-webhooks", secrets=("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",))


# -- params -------------------------------------------------------------------------------------


async def _params(mode: str, body: bytes) -> dict[str, Any]:
    return await make_params(mode, None, body, {})


async def test_json_params() -> None:
    assert await _params("json", b'{"a": [1, 2]}') == {"a": [1, 2]}
    assert await _params("json", b"") == {}
    assert await _params("json", b"  \n") == {}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "invalid_body_json"),
        (b"\xff\xfe", "invalid_body_json"),
        (b'{"a": NaN}', "invalid_body_json"),
        (b'{"a": 1e999}', "invalid_body_json"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid_body_json"),
        (b"[1]", "body_not_json_object"),
        (b'"s"', "body_not_json_object"),
        (b"null", "body_not_json_object"),
    ],
)
async def test_json_params_reject(body: bytes, code: str) -> None:
    with pytest.raises(WebhookRejected) as exc:
        await _params("json", body)
    assert exc.value.code == code and exc.value.status == 400


async def test_form_params() -> None:
    assert await _params("form", b"a=1&b=x+y&a=2&c=") == {"a": ["1", "2"], "b": "x y", "c": ""}
    assert await _params("form", b"") == {}
    for bad in (b"\xff=1", b"a=%ff", b"&&&"):
        with pytest.raises(WebhookRejected) as exc:
            await _params("form", bad)
        assert exc.value.code == "invalid_body_form"


async def test_raw_params() -> None:
    assert await _params("raw", "héllo".encode()) == {"body": "héllo"}
    assert await _params("raw", b"\xff") == {"body_base64": "/w=="}


def good_extractor(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    return {"n": len(body), "event": headers.get("x-event")}


async def async_extractor(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    return {"async": True}


def failing_extractor(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    raise RuntimeError(f"boom {SECRET}")


def bad_result_extractor(body: bytes, headers: Mapping[str, str]) -> Any:
    return [1, 2]


async def test_extractors() -> None:
    ext = load_extractor(f"{__name__}:good_extractor", "webhook:t")
    assert await make_params("x", ext, b"abc", {"x-event": "push"}) == {"n": 3, "event": "push"}
    ext = load_extractor(f"{__name__}:async_extractor", "webhook:t")
    assert await make_params("x", ext, b"", {}) == {"async": True}
    for name in ("failing_extractor", "bad_result_extractor"):
        with pytest.raises(WebhookRejected) as exc:
            await make_params("x", load_extractor(f"{__name__}:{name}", "t"), b"", {})
        assert exc.value.code == "params_extractor_failed" and exc.value.status == 422
        assert SECRET not in str(exc.value)


def test_load_extractor_errors() -> None:
    with pytest.raises(ConfigError, match=r"webhook:t.*cannot import module 'no_such_module_xyz'"):
        load_extractor("no_such_module_xyz:f", "webhook:t")
    with pytest.raises(ConfigError, match="not callable"):
        load_extractor(f"{__name__}:SECRET", "webhook:t")
