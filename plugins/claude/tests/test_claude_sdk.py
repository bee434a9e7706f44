"""The official anthropic and openai SDKs against a served host with a claude channel."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from claude_world import serve, set_up_site

import chatnio_claude
from chatnio_host.testing import TestHost
from chatnio_host.testing_vendors.anthropic import FakeAnthropic

MODEL = "claude-sonnet-4-5"
VENDOR_KEY = "sk-ant-vendor-key-abcdef123456"
WEATHER_TOOL = {"name": "get_weather", "description": "Weather of a city.",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[str, str, FakeAnthropic]]:
    async with FakeAnthropic(keys=[VENDOR_KEY]) as vendor:
        async with TestHost(tmp_path, plugins=[("claude", chatnio_claude)]) as host, serve(host) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                key = await set_up_site(client, [{"name": "claude", "type": "claude", "endpoint": vendor.url,
                                                  "keys": VENDOR_KEY, "models": [MODEL]}], [MODEL])
            yield base_url, key, vendor


async def test_anthropic_sdk_streams_tool_conversation(site: tuple[str, str, FakeAnthropic]) -> None:
    base_url, key, vendor = site
    client = anthropic.AsyncAnthropic(base_url=base_url, api_key=key, max_retries=0)
    messages: list[dict] = [{"role": "user", "content": "Paris"}]

    async with client.messages.stream(model=MODEL, max_tokens=256, messages=messages, tools=[WEATHER_TOOL]) as stream:
        kinds = [event.type async for event in stream]
        first = await stream.get_final_message()
    assert kinds[0] == "message_start"
    assert "content_block_start" in kinds
    assert "message_stop" in kinds
    assert first.model == MODEL
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "get_weather"
    assert call.input == {"text": "Paris"}
    assert first.usage.output_tokens > 0

    messages.append({"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]})
    messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]})
    async with client.messages.stream(model=MODEL, max_tokens=256, messages=messages, tools=[WEATHER_TOOL]) as stream:
        second = await stream.get_final_message()
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "tool result: sunny"
    sent = vendor.requests[-1].json()
    assert sent["messages"][2]["content"][0] == {"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}
    assert vendor.requests[-1].headers["x-api-key"] == VENDOR_KEY


async def test_anthropic_sdk_non_stream_and_count_tokens(site: tuple[str, str, FakeAnthropic]) -> None:
    base_url, key, _vendor = site
    client = anthropic.AsyncAnthropic(base_url=base_url, api_key=key, max_retries=0)
    message = await client.messages.create(model=MODEL, max_tokens=64, system="Be brief.",
                                           messages=[{"role": "user", "content": "hello there"}])
    assert message.content[0].text == "hello there"
    assert message.usage.input_tokens > 0
    counted = await client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hello there"}])
    assert counted.input_tokens > 0


async def test_anthropic_errors_use_anthropic_shape(site: tuple[str, str, FakeAnthropic]) -> None:
    base_url, key, _vendor = site
    bad = anthropic.AsyncAnthropic(base_url=base_url, api_key="sk-not-a-real-key", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        await bad.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "authentication_error"
    client = anthropic.AsyncAnthropic(base_url=base_url, api_key=key, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "system", "content": "x"}])
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert "messages[0].role" in caught.value.body["error"]["message"]


async def test_openai_sdk_streams_tool_call_through_claude(site: tuple[str, str, FakeAnthropic]) -> None:
    base_url, key, vendor = site
    client = openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)
    tools = [{"type": "function", "function": {"name": "get_time"}}]
    stream = await client.chat.completions.create(model=MODEL, stream=True, tools=tools,
                                                  messages=[{"role": "user", "content": "now?"}])
    calls: dict[int, dict] = {}
    finish = None
    async for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                entry = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
                if delta.id:
                    entry["id"] = delta.id
                    assert delta.type == "function"
                if delta.function and delta.function.name:
                    entry["name"] = delta.function.name
                if delta.function and delta.function.arguments:
                    entry["arguments"] += delta.function.arguments
            finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert calls[0]["name"] == "get_time"
    assert json.loads(calls[0]["arguments"]) == {"text": "now?"}
    assert vendor.requests[-1].json()["tools"] == [
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}]
    follow = await client.chat.completions.create(model=MODEL, messages=[
        {"role": "user", "content": "now?"},
        {"role": "assistant", "tool_calls": [{"id": calls[0]["id"], "type": "function",
                                              "function": {"name": "get_time", "arguments": calls[0]["arguments"]}}]},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "noon"},
    ], tools=tools)
    assert follow.choices[0].message.content == "tool result: noon"
