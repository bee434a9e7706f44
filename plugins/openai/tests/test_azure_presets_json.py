"""Azure deployments, the presets, and the embeddings, images and model-list calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openai_helpers import CHANNEL_KEY, make_request, make_target, run_chat

from chatnio_host import ConfigError, StreamError, TextDelta, UpstreamFailure, UsageEvent
from chatnio_host.testing_vendors import Reply, chat_chunk, sse_data

from chatnio_openai.azure import deployment_for
from chatnio_openai.presets import PRESETS_ENV, load_presets

AZURE_SETTINGS = {"api_version": "2024-02-01"}


def azure_target(vendor, model: str, **kwargs):
    return make_target(vendor, model=model, type_name="azure", key="AZKEY", settings=kwargs.pop("settings", AZURE_SETTINGS),
                       **kwargs)


# --- Azure ---------------------------------------------------------------------------------


async def test_azure_deployment_paths(adapter_for, vendor) -> None:
    adapter = adapter_for("azure")
    await run_chat(adapter, make_request("x", model="gpt-3.5-turbo-16k"), azure_target(vendor, "gpt-3.5-turbo-16k"))
    await run_chat(adapter, make_request("x", model="gpt-4o"), azure_target(vendor, "prod-gpt4o"))
    await run_chat(adapter, make_request("x", model="gpt-4o-mini", stream=True), azure_target(vendor, "gpt-4o-mini"))
    paths = [request.target for request in vendor.requests]
    assert paths == [
        "/openai/deployments/gpt-35-turbo-16k/chat/completions?api-version=2024-02-01",
        "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-02-01",
        "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-02-01",
    ]
    assert all(request.headers["api-key"] == "AZKEY" for request in vendor.requests)
    assert all("authorization" not in request.headers for request in vendor.requests)


async def test_azure_deployments_setting(adapter_for, vendor) -> None:
    settings = {**AZURE_SETTINGS, "deployments": {"gpt-4o": "prod-gpt4o"}}
    await run_chat(adapter_for("azure"), make_request("x", model="gpt-4o"),
                   azure_target(vendor, "gpt-4o", settings=settings))
    assert vendor.requests[0].path == "/openai/deployments/prod-gpt4o/chat/completions"


def test_deployment_rules() -> None:
    assert deployment_for("gpt-3.5-turbo", {}) == "gpt-35-turbo"
    assert deployment_for("gpt-3.5-turbo", {}, requested="gpt-3.5-turbo") == "gpt-35-turbo"
    assert deployment_for("my.deploy", {}, requested="gpt-4o") == "my.deploy"
    assert deployment_for("gpt-4o", {"deployments": {"gpt-4o": "d1"}}) == "d1"


async def test_azure_prompt_filter_chunk_tolerated(adapter_for, vendor) -> None:
    events = await run_chat(adapter_for("azure"), make_request("one two", model="gpt-4o"), azure_target(vendor, "gpt-4o"))
    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == "one two"
    assert not [event for event in events if isinstance(event, StreamError)]
    first = vendor.requests[0]
    assert "stream_options" not in first.json()


async def test_azure_content_filter_finish(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.sse([
        sse_data({"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": []}),
        sse_data(chat_chunk({"content": "Hi"}, model="gpt-35-turbo-16k")),
        sse_data(chat_chunk({}, finish_reason="content_filter", model="gpt-35-turbo-16k")),
        b"data: [DONE]\n\n",
    ]))
    events = await run_chat(adapter_for("azure"), make_request("x"), azure_target(vendor, "gpt-4o"))
    assert [event.reason for event in events if hasattr(event, "reason")] == ["content_filter"]


async def test_azure_usage_with_new_api_version(adapter_for, vendor) -> None:
    settings = {"api_version": "2024-10-21"}
    events = await run_chat(adapter_for("azure"), make_request("a b", model="gpt-4o"),
                            azure_target(vendor, "gpt-4o", settings=settings))
    assert vendor.requests[0].json()["stream_options"] == {"include_usage": True}
    assert [event.usage.output_tokens for event in events if isinstance(event, UsageEvent)] == [2]


async def test_azure_legacy_key_form(adapter_for, vendor) -> None:
    target = make_target(vendor, model="gpt-4o", type_name="azure", key=f"AZKEY|{vendor.url}", endpoint="2023-12-01-preview")
    await run_chat(adapter_for("azure"), make_request("x", model="gpt-4o"), target)
    request = vendor.requests[0]
    assert request.target == "/openai/deployments/gpt-4o/chat/completions?api-version=2023-12-01-preview"
    assert request.headers["api-key"] == "AZKEY"


async def test_azure_missing_version_is_not_found(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.json({"error": {"code": "404", "message": "Resource not found"}}, status=404))
    with pytest.raises(UpstreamFailure) as caught:
        await run_chat(adapter_for("azure"), make_request("x"), azure_target(vendor, "gpt-4o"))
    assert caught.value.kind == "not_found"
    assert caught.value.message == "Resource not found"


async def test_azure_embeddings_path(adapter_for, vendor) -> None:
    answer = await adapter_for("azure").embeddings({"model": "text-embedding-3-small", "input": "x"},
                                                   azure_target(vendor, "text-embedding-3-small"))
    assert answer["data"][0]["object"] == "embedding"
    assert vendor.requests[0].target == "/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-02-01"


# --- presets -------------------------------------------------------------------------------


EXPECTED_PRESETS = {"moonshot", "groq", "deepseek", "chatglm", "qwen", "hunyuan", "baichuan", "skylark", "zhinao",
                    "sparkdesk", "localai", "ollama"}


def test_presets_registered(types) -> None:
    assert EXPECTED_PRESETS <= set(types)
    for name in EXPECTED_PRESETS:
        channel_type = types[name]
        assert channel_type.default_endpoint.startswith("http")
        assert channel_type.template_models
        assert channel_type.defaults["auth_header"] == "Authorization"


@pytest.mark.parametrize(
    ("type_name", "endpoint_path", "expected_path"),
    [
        ("groq", "/openai", "/openai/v1/chat/completions"),
        ("chatglm", "", "/api/paas/v4/chat/completions"),
        ("chatglm", "/api/paas/v4", "/api/paas/v4/chat/completions"),
        ("qwen", "", "/compatible-mode/v1/chat/completions"),
        ("skylark", "/api/v3", "/api/v3/chat/completions"),
        ("deepseek", "", "/v1/chat/completions"),
    ],
)
async def test_preset_paths(adapter_for, vendor, type_name: str, endpoint_path: str, expected_path: str) -> None:
    target = make_target(vendor, type_name=type_name, endpoint=vendor.url + endpoint_path)
    await run_chat(adapter_for(type_name), make_request("x"), target)
    assert vendor.requests[0].path == expected_path
    assert vendor.requests[0].headers["authorization"] == f"Bearer {CHANNEL_KEY}"


def test_extra_preset_file(tmp_path: Path) -> None:
    path = tmp_path / "more.yaml"
    path.write_text(
        "- name: acme\n  label: Acme AI\n  default_endpoint: https://api.acme.example\n"
        "  auth: {header: X-Acme-Key, scheme: ''}\n  template_models: [acme-1]\n"
        "  settings: {stream_usage: false}\n",
        encoding="utf-8",
    )
    types = {channel_type.name: channel_type for channel_type in load_presets({PRESETS_ENV: str(path)})}
    acme = types["acme"]
    assert acme.template_models == ("acme-1",)
    assert acme.defaults == {"stream_usage": False, "auth_header": "X-Acme-Key", "auth_scheme": "", "api_path": "/v1"}


async def test_extra_preset_headers(upstream, vendor, tmp_path: Path) -> None:
    path = tmp_path / "more.json"
    path.write_text(json.dumps([{"name": "acme", "auth": {"header": "X-Acme-Key"}, "settings": {"stream_usage": False}}]),
                    encoding="utf-8")
    acme = {t.name: t for t in load_presets({PRESETS_ENV: str(path)})}["acme"]
    adapter = acme.adapter(upstream, channel_type=acme)
    await run_chat(adapter, make_request("x"), make_target(vendor, type_name="acme"))
    request = vendor.requests[0]
    assert request.headers["x-acme-key"] == CHANNEL_KEY
    assert "authorization" not in request.headers
    assert "stream_options" not in request.json()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"label": "x"}]', "no 'name'"),
        ('[{"name": "x", "colour": 1}]', "unknown fields"),
        ('[{"name": "x", "auth": "magic"}]', "'auth' must be"),
        ('{"name": "x"}', "list of preset objects"),
        ("[", "not valid JSON"),
    ],
)
def test_bad_preset_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_presets({PRESETS_ENV: str(path)})


def test_missing_preset_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a file"):
        load_presets({PRESETS_ENV: str(tmp_path / "absent.json")})


# --- embeddings, images, models ------------------------------------------------------------


async def test_embeddings_pass_through(adapter_for, vendor) -> None:
    body = {"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "base64", "dimensions": 8}
    answer = await adapter_for().embeddings(body, make_target(vendor, model="text-embedding-3-small"))
    assert len(answer["data"]) == 2
    assert isinstance(answer["data"][0]["embedding"], str)
    assert vendor.requests[0].json() == body
    assert vendor.requests[0].path == "/v1/embeddings"


async def test_images_pass_through(adapter_for, vendor) -> None:
    body = {"model": "dall-e-3", "prompt": "a cat", "n": 1, "size": "1024x1024", "response_format": "b64_json"}
    answer = await adapter_for().images(body, make_target(vendor, model="dall-e-3"))
    assert answer["data"][0]["b64_json"]
    assert vendor.requests[0].json() == body


async def test_list_models(adapter_for, vendor) -> None:
    models = await adapter_for().list_models(make_target(vendor))
    assert "gpt-4o" in models
    assert vendor.requests[0].method == "GET"
    assert vendor.requests[0].path == "/v1/models"


async def test_embeddings_error_masked(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.error(401, f"Incorrect API key provided: {CHANNEL_KEY}", code="invalid_api_key"))
    with pytest.raises(UpstreamFailure) as caught:
        await adapter_for().embeddings({"model": "e", "input": "x"}, make_target(vendor, model="e"))
    assert caught.value.kind == "auth"
    assert CHANNEL_KEY not in caught.value.message
    assert caught.value.message.endswith("****3333")
