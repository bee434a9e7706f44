"""The walkthrough of docs/relay.md end to end: admin set-up over HTTP, then the official openai SDK."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import httpx
import openai
from relay_world import serve

from chatnio_host.testing_vendors.openai import FakeOpenAI

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
CHAT_MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"
IMAGE_MODEL = "dall-e-3"
INPUT_MICRO_PER_TOKEN = 500  # 0.5 points per 1,000 input tokens
OUTPUT_MICRO_PER_TOKEN = 1500  # 1.5 points per 1,000 output tokens
IMAGE_MICRO = 200_000  # 0.2 points per image request


def _cost(usage: Any) -> int:
    return usage.prompt_tokens * INPUT_MICRO_PER_TOKEN + usage.completion_tokens * OUTPUT_MICRO_PER_TOKEN


async def _balance_micro(client: httpx.AsyncClient, token: str) -> int:
    response = await client.get("/api/billing/balance", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return int(Decimal(str(response.json()["balance"])) * 1_000_000)


async def _admin_setup(client: httpx.AsyncClient, vendor: FakeOpenAI) -> tuple[str, str, int]:
    """Sign in as root, add a channel and prices, register a user with points and a key."""
    login = await client.post("/api/auth/login", json={"username": "root", "password": "chatnio123456"})
    assert login.status_code == 200, login.text
    admin = {"Authorization": f"Bearer {login.json()['token']}"}

    channel = await client.post("/api/admin/channels", headers=admin, json={
        "name": "fake openai", "type": "openai", "endpoint": vendor.url, "keys": "sk-upstream-key",
        "models": [CHAT_MODEL, EMBEDDING_MODEL, IMAGE_MODEL],
    })
    assert channel.status_code == 201, channel.text
    prices = await client.put("/api/admin/prices", headers=admin, json={"rules": [
        {"type": "token", "models": [CHAT_MODEL, EMBEDDING_MODEL], "input": "0.5", "output": "1.5"},
        {"type": "times", "models": [IMAGE_MODEL], "output": "0.2"},
    ]})
    assert prices.status_code == 200, prices.text

    register = await client.post("/api/auth/register", json={"username": "alice", "password": "alice-password-1"})
    assert register.status_code == 201, register.text
    token = register.json()["token"]
    user_id = register.json()["user"]["id"]
    grant = await client.post(f"/api/admin/users/{user_id}/points", headers=admin, json={"delta": "50"})
    assert grant.status_code == 200, grant.text
    key = await client.post("/api/keys", headers={"Authorization": f"Bearer {token}"}, json={"name": "sdk"})
    assert key.status_code == 201, key.text
    return token, key.json()["key"], user_id


async def test_openai_sdk_walkthrough(open_host: Any) -> None:
    async with open_host() as host, FakeOpenAI() as vendor, serve(host) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            token, key, _user_id = await _admin_setup(client, vendor)
            start = await _balance_micro(client, token)
            sdk = openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)
            spent = 0

            completion = await sdk.chat.completions.create(
                model=CHAT_MODEL, messages=[{"role": "user", "content": "hello there"}]
            )
            assert completion.choices[0].message.content == "hello there"
            assert completion.model == CHAT_MODEL
            assert completion.usage is not None
            assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
            spent += _cost(completion.usage)

            stream = await sdk.chat.completions.create(
                model=CHAT_MODEL, messages=[{"role": "user", "content": "stream me please"}], stream=True,
                stream_options={"include_usage": True},
            )
            text = ""
            usage = None
            async for chunk in stream:
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
                if chunk.usage is not None:
                    usage = chunk.usage
            assert text == "stream me please"
            assert usage is not None
            spent += _cost(usage)

            tools = [{"type": "function", "function": {
                "name": "lookup", "description": "Look a word up.",
                "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
            }}]
            messages: list[dict[str, Any]] = [{"role": "user", "content": "define relay"}]
            called = await sdk.chat.completions.create(model=CHAT_MODEL, messages=messages, tools=tools)
            call = called.choices[0].message.tool_calls[0]
            assert called.choices[0].finish_reason == "tool_calls"
            assert call.function.name == "lookup"
            assert json.loads(call.function.arguments) == {"text": "define relay"}
            spent += _cost(called.usage)
            messages += [
                {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                {"role": "tool", "tool_call_id": call.id, "content": "a relay passes things on"},
            ]
            answered = await sdk.chat.completions.create(model=CHAT_MODEL, messages=messages, tools=tools)
            assert answered.choices[0].message.content == "tool result: a relay passes things on"
            spent += _cost(answered.usage)

            image_content = [{"type": "text", "text": "what is this"},
                             {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]
            vision = await sdk.chat.completions.create(
                model=CHAT_MODEL, messages=[{"role": "user", "content": image_content}]
            )
            assert vision.choices[0].message.content
            spent += _cost(vision.usage)
            forwarded = vendor.requests_to("/chat/completions")[-1].json()
            assert forwarded["messages"][0]["content"] == image_content

            models = await sdk.models.list()
            assert sorted(model.id for model in models.data) == sorted([CHAT_MODEL, EMBEDDING_MODEL, IMAGE_MODEL])

            embedding = await sdk.embeddings.create(model=EMBEDDING_MODEL, input=["one", "two words"])
            assert len(embedding.data) == 2
            assert embedding.model == EMBEDDING_MODEL
            spent += embedding.usage.prompt_tokens * INPUT_MICRO_PER_TOKEN

            image = await sdk.images.generate(model=IMAGE_MODEL, prompt="a small cat", response_format="b64_json")
            assert base64.b64decode(image.data[0].b64_json).startswith(b"\x89PNG")
            spent += IMAGE_MICRO

            assert await _balance_micro(client, token) == start - spent
