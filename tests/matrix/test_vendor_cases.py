"""Relay cases for the claude and gemini channel types, end to end through the host.

Tool-call streams keep their indices and arrive unbuffered. Token limits map to each vendor's
field, and images are sent inline with the type their bytes show. A request that the gateway
can tell is invalid is a 400 before any vendor call.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from matrix_world import MatrixSite
from scenarios import MODELS, PNG_1X1
from test_sdk_clients import served

from chatnio_host.testing_vendors.anthropic import anthropic_event
from chatnio_host.testing_vendors.server import FakeVendor, Reply

BMP = "Qk06AAAAAAAAADYAAAAoAAAAAQAAAAEAAAABABgAAAAAAAQAAADEDgAAxA4AAAAAAAAAAAAAAAD/AA=="

B09_EVENTS: list[dict[str, Any]] = [
    {"type": "message_start", "message": {"id": "msg_02", "type": "message", "role": "assistant",
                                          "model": "claude-3-5-sonnet-20241022", "content": [], "stop_reason": None,
                                          "stop_sequence": None, "usage": {"input_tokens": 400, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking."}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1,
     "content_block": {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {}}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}},
    {"type": "content_block_delta", "index": 1,
     "delta": {"type": "input_json_delta", "partial_json": "{\"location\": \"San Fra"}},
    {"type": "content_block_delta", "index": 1,
     "delta": {"type": "input_json_delta", "partial_json": "ncisco, CA\", \"unit\": \"celsius\"}"}},
    {"type": "content_block_stop", "index": 1},
    {"type": "content_block_start", "index": 2,
     "content_block": {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}}},
    {"type": "content_block_stop", "index": 2},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 58}},
    {"type": "message_stop"},
]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"location": {"type": "string"}, "unit": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "get_time"}}]


def _b09_reply() -> Reply:
    frames = [anthropic_event(event["type"], event) for event in B09_EVENTS]
    # The vendor sleeps one second before the content_block_stop of the tool block at index 1.
    return Reply.sse([*frames[:8], 1.0, *frames[8:]])


async def test_claude_tool_stream_to_openai_client(site: MatrixSite) -> None:
    site.vendors["claude"].enqueue(_b09_reply())
    async with served(site) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        fragment_at = None
        finish_at = None
        chunks: list[dict[str, Any]] = []
        async with client.stream("POST", "/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
                                 json={"model": MODELS["claude"], "stream": True, "tools": TOOLS,
                                       "stream_options": {"include_usage": True},
                                       "messages": [{"role": "user", "content": "weather and time?"}]}) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[len("data: "):])
                chunks.append(chunk)
                if "San Fra" in line and fragment_at is None:
                    fragment_at = time.monotonic()
                if '"finish_reason":"tool_calls"' in line:
                    finish_at = time.monotonic()
    # The fragment must not wait for the vendor's delayed content_block_stop.
    assert fragment_at is not None and finish_at is not None
    assert finish_at - fragment_at > 0.8, finish_at - fragment_at

    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert content == "Checking."
    deltas = [call for c in chunks if c["choices"] for call in c["choices"][0]["delta"].get("tool_calls") or []]
    firsts = [delta for delta in deltas if "id" in delta]
    assert [(d["index"], d["id"], d["type"], d["function"]["name"], d["function"]["arguments"]) for d in firsts] == [
        (0, "toolu_01A", "function", "get_weather", ""), (1, "toolu_01B", "function", "get_time", "")]
    later = [delta for delta in deltas if "id" not in delta]
    assert all(set(delta) == {"index", "function"} and set(delta["function"]) == {"arguments"} for delta in later)
    arguments = {index: "".join(d["function"]["arguments"] for d in deltas if d["index"] == index) for index in (0, 1)}
    assert json.loads(arguments[0]) == {"location": "San Francisco, CA", "unit": "celsius"}
    assert arguments[1] == "{}"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finishes == ["tool_calls"]
    usage = chunks[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (400, 58)


async def test_claude_tool_message_non_stream(site: MatrixSite) -> None:
    site.vendors["claude"].enqueue(Reply.json({
        "id": "msg_02", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-20241022",
        "stop_reason": "tool_use", "stop_sequence": None, "usage": {"input_tokens": 400, "output_tokens": 58},
        "content": [{"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_01A", "name": "get_weather",
                     "input": {"location": "San Francisco, CA", "unit": "celsius"}},
                    {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}}]}))
    response = await site.host.client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
                                           json={"model": MODELS["claude"], "tools": TOOLS,
                                                 "messages": [{"role": "user", "content": "weather and time?"}]})
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    calls = [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message["tool_calls"]]
    assert calls == [("toolu_01A", "get_weather", {"location": "San Francisco, CA", "unit": "celsius"}),
                     ("toolu_01B", "get_time", {})]
    assert response.json()["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(("body_extra", "expected"), [({"max_completion_tokens": 300}, 300), ({}, 4096)])
async def test_claude_max_tokens_mapping(site: MatrixSite, body_extra: dict[str, Any], expected: int) -> None:
    response = await site.host.client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
                                           json={"model": MODELS["claude"], **body_extra,
                                                 "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    assert site.vendors["claude"].requests[-1].json()["max_tokens"] == expected


async def test_gemini_max_tokens_mapping(site: MatrixSite) -> None:
    response = await site.host.client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
                                           json={"model": MODELS["gemini"], "max_tokens": 300,
                                                 "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    sent = site.vendors["gemini"].requests[-1].json()
    assert sent["generationConfig"]["maxOutputTokens"] == 300
    assert "max_tokens" not in json.dumps(sent)


def _image_body(model: str, url: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url, "detail": "low"}}]}]}


@pytest.mark.parametrize("channel_type", ["claude", "gemini"])
async def test_bmp_image_rejected_before_vendor_call(site: MatrixSite, channel_type: str) -> None:
    response = await site.host.client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
                                           json=_image_body(MODELS[channel_type], f"data:image/bmp;base64,{BMP}"))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "image/bmp" in response.json()["error"]["message"]
    assert site.vendors[channel_type].requests == []


async def test_claude_channel_may_send_image_urls(site: MatrixSite) -> None:
    from chatnio_host.channels.schemas import ChannelUpdate

    manager = site.host.ctx.services["channels"].manager
    channel = next(item for item in await manager.list_channels() if item.type == "claude")
    await manager.update(channel.id, ChannelUpdate(settings={"send_image_urls": True}))
    url = "https://images.example/cat.png"
    response = await site.host.client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
                                           json=_image_body(MODELS["claude"], url))
    assert response.status_code == 200, response.text
    blocks = site.vendors["claude"].requests[-1].json()["messages"][0]["content"]
    assert blocks[1] == {"type": "image", "source": {"type": "url", "url": url}}


async def test_remote_image_url_to_gemini_is_fetched_inline(site: MatrixSite) -> None:
    png = base64.b64decode(PNG_1X1)

    class Images(FakeVendor):
        def default_reply(self, request: Any) -> Reply:
            return Reply(headers=[("Content-Type", "image/png")], body=png)

    async with Images() as images:
        response = await site.host.client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
                                               json=_image_body(MODELS["gemini"], f"{images.url}/cat.png"))
    assert response.status_code == 200, response.text
    parts = site.vendors["gemini"].requests[-1].json()["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": PNG_1X1}}


async def test_remote_image_url_to_claude_is_fetched_inline(site: MatrixSite) -> None:
    png = base64.b64decode(PNG_1X1)

    class Images(FakeVendor):
        def default_reply(self, request: Any) -> Reply:
            return Reply(headers=[("Content-Type", "image/png")], body=png)

    async with Images() as images:
        response = await site.host.client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
                                               json=_image_body(MODELS["claude"], f"{images.url}/cat.png"))
    assert response.status_code == 200, response.text
    block = site.vendors["claude"].requests[-1].json()["messages"][0]["content"][1]
    assert block == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1X1}}


async def test_declared_type_replaced_by_sniffed_type(site: MatrixSite) -> None:
    for channel_type in ("claude", "gemini"):
        response = await site.host.client.post(
            "/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
            json=_image_body(MODELS[channel_type], f"data:image/jpeg;base64,{PNG_1X1}"))
        assert response.status_code == 200, response.text
    claude = site.vendors["claude"].requests[-1].json()["messages"][0]["content"][1]
    assert claude["source"] == {"type": "base64", "media_type": "image/png", "data": PNG_1X1}
    gemini = site.vendors["gemini"].requests[-1].json()["contents"][0]["parts"][1]
    assert gemini == {"inlineData": {"mimeType": "image/png", "data": PNG_1X1}}


@pytest.mark.parametrize("channel_type", ["claude", "gemini"])
async def test_malformed_tool_schema_is_400(site: MatrixSite, channel_type: str) -> None:
    tools = [{"type": "function", "function": {"name": "broken", "parameters": {
        "type": "object", "properties": {"a": {"type": "no-such-type"}}}}}]
    response = await site.host.client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
                                           json={"model": MODELS[channel_type], "tools": tools,
                                                 "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 400, response.text
    assert "broken" in response.json()["error"]["message"]
    assert site.vendors[channel_type].requests == []


async def test_gemini_safety_block_non_stream_to_openai_client(site: MatrixSite) -> None:
    site.vendors["gemini"].enqueue(Reply.json({
        "candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": [
            {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}]}],
        "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12}}))
    response = await site.host.client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
                                           json={"model": MODELS["gemini"],
                                                 "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert choice["message"]["content"] in ("", None)
    usage = response.json()["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (12, 0, 12)


async def test_gemini_prompt_block_non_stream_to_openai_client(site: MatrixSite) -> None:
    site.vendors["gemini"].enqueue(Reply.json({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                                               "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}}))
    response = await site.host.client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
                                           json={"model": MODELS["gemini"],
                                                 "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["finish_reason"] == "content_filter"
    assert response.json()["usage"]["prompt_tokens"] == 8


async def test_claude_overloaded_after_content_to_openai_client(site: MatrixSite) -> None:
    start = dict(B09_EVENTS[0])
    start["message"] = {**start["message"], "usage": {"input_tokens": 30, "output_tokens": 1}}
    site.vendors["claude"].enqueue(Reply.sse([
        anthropic_event("message_start", start), anthropic_event("content_block_start", B09_EVENTS[1]),
        anthropic_event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                "delta": {"type": "text_delta", "text": "Partial"}}),
        anthropic_event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ], ending="close"))
    response = await site.host.client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
                                           json={"model": MODELS["claude"], "stream": True,
                                                 "messages": [{"role": "user", "content": "hi"}]})
    lines = [line for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert "Partial" in lines[0]
    error = json.loads(lines[-1][len("data: "):])["error"]
    assert error["type"] == "overloaded_error"
    assert error["message"]
    assert "data: [DONE]" not in response.text
    assert '"finish_reason":"stop"' not in response.text
    assert len(site.vendors["claude"].requests) == 1
