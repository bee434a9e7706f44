"""The official google-genai and openai SDKs against a served host with a gemini channel."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest
from gemini_world import serve, set_up_site
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

import chatnio_gemini
from chatnio_host.testing import TestHost
from chatnio_host.testing_vendors.gemini import FakeGemini

MODEL = "gemini-2.5-flash"
VENDOR_KEY = "AIzaSyVendor-abcdefghijklmnop123"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[str, str, FakeGemini]]:
    async with FakeGemini(keys=[VENDOR_KEY]) as vendor:
        async with TestHost(tmp_path, plugins=[("gemini", chatnio_gemini)]) as host, serve(host) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                key = await set_up_site(client, [{"name": "gemini", "type": "gemini", "endpoint": vendor.url,
                                                  "keys": VENDOR_KEY, "models": [MODEL]}], [MODEL])
            yield base_url, key, vendor


def sdk(base_url: str, key: str) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=base_url, api_version="v1beta"))


WEATHER = types.Tool(function_declarations=[types.FunctionDeclaration(
    name="get_weather", description="Weather of a city.",
    parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]))])


async def test_genai_sdk_streams_tool_conversation(site: tuple[str, str, FakeGemini]) -> None:
    base_url, key, vendor = site
    client = sdk(base_url, key)
    config = types.GenerateContentConfig(tools=[WEATHER], system_instruction="Be brief.")
    contents: list[types.Content] = [types.Content(role="user", parts=[types.Part(text="Paris")])]

    chunks = [chunk async for chunk in await client.aio.models.generate_content_stream(
        model=MODEL, contents=contents, config=config)]
    calls = [part.function_call for chunk in chunks for cand in chunk.candidates or [] for part in
             (cand.content.parts if cand.content and cand.content.parts else []) if part.function_call]
    assert len(calls) == 1
    assert calls[0].name == "get_weather"
    assert calls[0].args == {"text": "Paris"}
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.prompt_token_count > 0
    assert "key=" not in vendor.requests[-1].target

    contents.append(types.Content(role="model", parts=[types.Part(function_call=calls[0])]))
    contents.append(types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
        name="get_weather", response={"forecast": "sunny"}))]))
    chunks = [chunk async for chunk in await client.aio.models.generate_content_stream(
        model=MODEL, contents=contents, config=config)]
    text = "".join(chunk.text or "" for chunk in chunks)
    assert text == 'tool result: {"forecast":"sunny"}'
    sent = vendor.requests[-1].json()
    assert sent["contents"][2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"forecast": "sunny"}}}]}


async def test_genai_sdk_generate_and_list_models(site: tuple[str, str, FakeGemini]) -> None:
    base_url, key, _vendor = site
    client = sdk(base_url, key)
    response = await client.aio.models.generate_content(model=MODEL, contents="hello there")
    assert response.text == "hello there"
    assert response.usage_metadata.total_token_count > 0
    names = [model.name async for model in await client.aio.models.list()]
    assert f"models/{MODEL}" in names


async def test_query_key_accepted_and_masked_in_logs(site: tuple[str, str, FakeGemini],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    base_url, key, _vendor = site
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.post(f"/v1beta/models/{MODEL}:generateContent", params={"key": key},
                                     json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        assert response.status_code == 200, response.text
        bad = await client.post(f"/v1beta/models/{MODEL}:generateContent", params={"key": "sk-wrong-1234"},
                                json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    assert bad.status_code == 401
    assert bad.json()["error"]["status"] == "UNAUTHENTICATED"
    assert "sk-wrong-1234" not in bad.text
    # The test's own httpx client logs the URL it sent; only the server side must mask keys.
    server_lines = [record.getMessage() for record in caplog.records if not record.name.startswith(("httpx", "httpcore"))]
    assert server_lines
    assert not any(key in line or VENDOR_KEY in line or "sk-wrong-1234" in line for line in server_lines)


async def test_genai_errors_use_google_shape(site: tuple[str, str, FakeGemini]) -> None:
    base_url, key, _vendor = site
    client = sdk(base_url, key)
    with pytest.raises(genai_errors.ServerError) as unserved:
        await client.aio.models.generate_content(model="no-such-model", contents="hi")
    assert unserved.value.code == 503
    assert unserved.value.status == "UNAVAILABLE"
    with pytest.raises(genai_errors.ClientError) as invalid:
        await client.aio.models.generate_content(model=MODEL, contents=[types.Content(role="tool", parts=[
            types.Part(text="x")])])
    assert invalid.value.code == 400
    assert invalid.value.status == "INVALID_ARGUMENT"
    assert "contents[0].role" in invalid.value.message


async def test_openai_sdk_streams_tool_call_through_gemini(site: tuple[str, str, FakeGemini]) -> None:
    base_url, key, vendor = site
    client = openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)
    tools = [{"type": "function", "function": {"name": "classify", "parameters": {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": False,
        "properties": {"label": {"type": "string"}}}}}]
    stream = await client.chat.completions.create(
        model=MODEL, stream=True, tools=tools, messages=[{"role": "user", "content": "label this"}],
        tool_choice={"type": "function", "function": {"name": "classify"}})
    calls: dict[int, dict] = {}
    finish = None
    async for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                entry = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
                entry["id"] = delta.id or entry["id"]
                if delta.function and delta.function.name:
                    entry["name"] = delta.function.name
                if delta.function and delta.function.arguments:
                    entry["arguments"] += delta.function.arguments
            finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert calls[0]["name"] == "classify"
    assert json.loads(calls[0]["arguments"]) == {"text": "label this"}
    sent = vendor.requests[-1].json()
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["classify"]}}
    follow = await client.chat.completions.create(model=MODEL, tools=tools, messages=[
        {"role": "user", "content": "label this"},
        {"role": "assistant", "tool_calls": [{"id": calls[0]["id"], "type": "function",
                                              "function": {"name": "classify", "arguments": calls[0]["arguments"]}}]},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "{\"label\": \"spam\"}"},
    ])
    assert follow.choices[0].message.content == 'tool result: {"label":"spam"}'


async def test_stream_without_alt_is_json_array(site: tuple[str, str, FakeGemini]) -> None:
    base_url, key, _vendor = site
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.post(f"/v1beta/models/{MODEL}:streamGenerateContent", headers={"x-goog-api-key": key},
                                     json={"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]})
    assert response.status_code == 200, response.text
    chunks = json.loads(response.text)
    text = "".join(part.get("text", "") for chunk in chunks for part in chunk["candidates"][0]["content"]["parts"])
    assert text == "hello there"
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
