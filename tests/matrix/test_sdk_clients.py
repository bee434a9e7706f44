"""The official anthropic, google-genai and openai SDKs, served over HTTP, through every channel type.

Each test runs a conversation with a tool call: the first turn streams a call, the second
sends the tool's result back and streams the answer. The fake vendors answer by default: they
call the first tool with ``{"text": <last user text>}`` and answer ``tool result: ...`` after a
result.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types
from matrix_world import MatrixSite
from scenarios import CHANNEL_TYPES, MODELS
from sqlalchemy import select

from chatnio_host.billing.prices import PRICES_SECTION, PriceRule, PricesConfig
from chatnio_host.db.models.billing import UsageRecord
from chatnio_host.testing import serve_app
from chatnio_host.testing_vendors.anthropic import THINKING_SIGNATURE, message_events
from chatnio_host.testing_vendors.gemini import THOUGHT_SIGNATURE, gemini_chunk, gemini_sse
from chatnio_host.testing_vendors.server import Reply


def served(site: MatrixSite) -> Any:
    """Serve the site's app on a free 127.0.0.1 port."""
    return serve_app(site.host)


WEATHER_ANTHROPIC = {"name": "get_weather", "description": "Weather of a city.",
                     "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}}}


async def test_anthropic_sdk_tool_conversation_each_channel(site: MatrixSite) -> None:
    async with served(site) as base_url:
        client = anthropic.AsyncAnthropic(base_url=base_url, api_key=site.key, max_retries=0)
        for channel_type in CHANNEL_TYPES:
            model = MODELS[channel_type]
            messages: list[dict] = [{"role": "user", "content": "Paris"}]
            async with client.messages.stream(model=model, max_tokens=200, messages=messages,
                                              tools=[WEATHER_ANTHROPIC]) as stream:
                kinds = [event.type async for event in stream]
                first = await stream.get_final_message()
            assert kinds[0] == "message_start", channel_type
            assert kinds[-1] == "message_stop", channel_type
            assert first.stop_reason == "tool_use", channel_type
            call = next(block for block in first.content if block.type == "tool_use")
            assert call.name == "get_weather", channel_type
            assert call.input == {"text": "Paris"}, channel_type

            messages.append({"role": "assistant", "content": [block.model_dump(exclude_none=True)
                                                               for block in first.content]})
            messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                                          "content": "sunny"}]})
            async with client.messages.stream(model=model, max_tokens=200, messages=messages,
                                              tools=[WEATHER_ANTHROPIC]) as stream:
                second = await stream.get_final_message()
            assert second.stop_reason == "end_turn", channel_type
            assert second.content[-1].text.startswith("tool result:"), (channel_type, second.content)
            assert "sunny" in second.content[-1].text, channel_type


def _genai(base_url: str, key: str) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=base_url, api_version="v1beta"))


async def test_genai_sdk_tool_conversation_each_channel(site: MatrixSite) -> None:
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Weather of a city.",
        parameters=types.Schema(type="OBJECT", properties={"text": types.Schema(type="STRING")}))])
    config = types.GenerateContentConfig(tools=[tool], system_instruction="Be brief.")
    async with served(site) as base_url:
        client = _genai(base_url, site.key)
        for channel_type in CHANNEL_TYPES:
            model = MODELS[channel_type]
            contents = [types.Content(role="user", parts=[types.Part(text="Paris")])]
            chunks = [chunk async for chunk in await client.aio.models.generate_content_stream(
                model=model, contents=contents, config=config)]
            calls = [part.function_call for chunk in chunks for candidate in chunk.candidates or []
                     for part in (candidate.content.parts or [] if candidate.content else []) if part.function_call]
            assert [call.name for call in calls] == ["get_weather"], channel_type
            assert calls[0].args == {"text": "Paris"}, channel_type
            assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP, channel_type
            assert chunks[-1].usage_metadata.prompt_token_count > 0, channel_type

            contents.append(types.Content(role="model", parts=[types.Part(function_call=calls[0])]))
            contents.append(types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
                id=calls[0].id, name="get_weather", response={"forecast": "sunny"}))]))
            chunks = [chunk async for chunk in await client.aio.models.generate_content_stream(
                model=model, contents=contents, config=config)]
            text = "".join(chunk.text or "" for chunk in chunks)
            assert text.startswith("tool result:"), (channel_type, text)
            assert "sunny" in text, channel_type


async def test_openai_sdk_tool_conversation_each_channel(site: MatrixSite) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"text": {"type": "string"}}}}}]
    async with served(site) as base_url:
        client = openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=site.key, max_retries=0)
        for channel_type in CHANNEL_TYPES:
            model = MODELS[channel_type]
            messages: list[dict] = [{"role": "user", "content": "Paris"}]
            stream = await client.chat.completions.create(model=model, messages=messages, tools=tools, stream=True)
            calls: dict[int, dict] = {}
            finish = None
            async for chunk in stream:
                for choice in chunk.choices:
                    for delta in choice.delta.tool_calls or []:
                        entry = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
                        entry["id"] = delta.id or entry["id"]
                        if delta.function and delta.function.name:
                            entry["name"] = delta.function.name
                        entry["arguments"] += (delta.function.arguments or "") if delta.function else ""
                    finish = choice.finish_reason or finish
            assert finish == "tool_calls", channel_type
            assert json.loads(calls[0]["arguments"]) == {"text": "Paris"}, channel_type
            messages.append({"role": "assistant", "tool_calls": [{"id": calls[0]["id"], "type": "function", "function": {
                "name": "get_weather", "arguments": calls[0]["arguments"]}}]})
            messages.append({"role": "tool", "tool_call_id": calls[0]["id"], "content": "sunny"})
            stream = await client.chat.completions.create(model=model, messages=messages, tools=tools, stream=True)
            text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
            assert text.startswith("tool result:"), (channel_type, text)
            assert "sunny" in text, channel_type


async def test_thinking_signature_survives_second_turn(site: MatrixSite) -> None:
    """With thinking on, the claude vendor returns 400 unless the signed thinking block comes back."""
    model = MODELS["claude"]
    async with served(site) as base_url:
        client = anthropic.AsyncAnthropic(base_url=base_url, api_key=site.key, max_retries=0)
        thinking = {"type": "enabled", "budget_tokens": 1024}
        messages: list[dict] = [{"role": "user", "content": "Paris"}]
        async with client.messages.stream(model=model, max_tokens=2048, messages=messages, thinking=thinking,
                                          tools=[WEATHER_ANTHROPIC]) as stream:
            first = await stream.get_final_message()
        assert first.content[0].type == "thinking"
        assert first.content[0].signature == THINKING_SIGNATURE
        call = next(block for block in first.content if block.type == "tool_use")
        messages.append({"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]})
        second = await client.messages.create(model=model, max_tokens=2048, messages=messages, thinking=thinking,
                                              tools=[WEATHER_ANTHROPIC])
        assert second.content[-1].text == "tool result: sunny"
        sent = site.vendors["claude"].requests[-1].json()
        assert sent["thinking"] == thinking
        assert sent["messages"][1]["content"][0] == {"type": "thinking", "thinking": "Let me think.",
                                                     "signature": THINKING_SIGNATURE}


async def test_gemini_thought_signature_survives_second_turn(site: MatrixSite) -> None:
    model = MODELS["gemini"]
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", parameters=types.Schema(type="OBJECT", properties={"text": types.Schema(type="STRING")}))])
    config = types.GenerateContentConfig(tools=[tool], thinking_config=types.ThinkingConfig(include_thoughts=True,
                                                                                           thinking_budget=512))
    async with served(site) as base_url:
        client = _genai(base_url, site.key)
        contents = [types.Content(role="user", parts=[types.Part(text="Paris")])]
        first = await client.aio.models.generate_content(model=model, contents=contents, config=config)
        parts = first.candidates[0].content.parts
        call_part = next(part for part in parts if part.function_call)
        assert call_part.thought_signature is not None
        contents.append(first.candidates[0].content)
        contents.append(types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
            name="get_weather", response={"forecast": "sunny"}))]))
        await client.aio.models.generate_content(model=model, contents=contents, config=config)
        sent = site.vendors["gemini"].requests[-1].json()
        model_turn = sent["contents"][1]
        call = next(part for part in model_turn["parts"] if "functionCall" in part)
        assert call["thoughtSignature"] == THOUGHT_SIGNATURE


async def _usage_record(site: MatrixSite) -> UsageRecord:
    for _ in range(100):
        async with site.host.ctx.db.session() as session:
            rows = list(await session.scalars(select(UsageRecord).where(UsageRecord.user_id == site.user_id)
                                              .order_by(UsageRecord.id.desc())))
        if rows:
            return rows[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no usage record was written")


@pytest.mark.parametrize("inbound", ["openai", "anthropic"])
async def test_billing_prices_cache_reads_and_writes(site: MatrixSite, inbound: str) -> None:
    """A claude response with cache reads and writes is charged at the section's cache ratios."""
    ctx = site.host.ctx
    config = await ctx.site.get(PRICES_SECTION, PricesConfig)
    rules = [PriceRule(type="token", models=[MODELS["claude"]], input=Decimal("1"), output=Decimal("2"),
                       cached_input_ratio=Decimal("0.1"), cache_write_ratio=Decimal("1.25"))]
    await ctx.site.put(PRICES_SECTION, PricesConfig(rules=rules + [r for r in config.rules
                                                                   if MODELS["claude"] not in r.models]))
    usage = {"input_tokens": 200, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 400}
    site.vendors["claude"].enqueue(Reply.sse(message_events([{"type": "text", "text": "Hi"}], usage=usage,
                                                            output_tokens=50)))
    if inbound == "openai":
        response = await site.host.client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
                                               json={"model": MODELS["claude"], "stream": True,
                                                     "messages": [{"role": "user", "content": "hi"}]})
    else:
        response = await site.host.client.post("/v1/messages", headers={"x-api-key": site.key},
                                               json={"model": MODELS["claude"], "max_tokens": 64, "stream": True,
                                                     "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    record = await _usage_record(site)
    assert record.input_tokens == 1600
    assert record.cached_input_tokens == 1000
    assert record.cache_write_tokens == 400
    assert record.output_tokens == 50
    # 200 plain + 1000 * 0.1 + 400 * 1.25 = 800 input-price tokens at 1 point per 1K, 50 at 2 per 1K.
    assert record.points == 800 * 1000 + 50 * 2000


async def test_billing_counts_gemini_thoughts_as_output(site: MatrixSite) -> None:
    site.vendors["gemini"].enqueue(Reply.sse([
        gemini_sse(gemini_chunk([{"text": "Pondering.", "thought": True}])),
        gemini_sse(gemini_chunk([{"text": "Hi"}], finish_reason="STOP", usage={
            "promptTokenCount": 100, "candidatesTokenCount": 10, "thoughtsTokenCount": 30, "totalTokenCount": 140})),
    ]))
    response = await site.host.client.post(
        f"/v1beta/models/{MODELS['gemini']}:streamGenerateContent?alt=sse", headers={"x-goog-api-key": site.key},
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    assert response.status_code == 200, response.text
    record = await _usage_record(site)
    assert record.input_tokens == 100
    assert record.output_tokens == 40
    assert record.reasoning_tokens == 30
    # The matrix price is 0.5 points per 1K input and 1.5 per 1K output tokens.
    assert record.points == 100 * 500 + 40 * 1500
