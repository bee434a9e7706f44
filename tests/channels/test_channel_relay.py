"""Channels through the real relay: the official openai SDK calls /v1/chat/completions.

The caller is the root admin. Unpriced models are free for admins, so these tests need no prices.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from chatnio_host.channels.schemas import ChannelCreate
from chatnio_host.testing import TestHost

from conftest import Upstream  # type: ignore[import-not-found]


@pytest.fixture
async def sdk(channel_host: TestHost, admin: dict[str, str]) -> AsyncIterator[openai.AsyncOpenAI]:
    """An openai SDK client with an API key of the root admin, calling the app in process."""
    created = await channel_host.client.post("/api/keys", json={"name": "channels"}, headers=admin)
    assert created.status_code == 201, created.text
    transport = httpx.ASGITransport(app=channel_host.app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport) as http:
        yield openai.AsyncOpenAI(
            api_key=created.json()["key"], base_url="http://testserver/v1", http_client=http, max_retries=0
        )


async def add_channel(host: TestHost, **fields: Any) -> int:
    values: dict[str, Any] = {"name": "c", "type": "fake", "models": ["m"], "retry": 1}
    values.update(fields)
    return (await host.ctx.services["channels"].manager.create(ChannelCreate(**values))).id


async def chat(sdk: openai.AsyncOpenAI) -> str:
    completion = await sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    return completion.choices[0].message.content or ""


async def test_bad_key_disabled_clients_unaffected(
    channel_host: TestHost, sdk: openai.AsyncOpenAI, upstream: Upstream
) -> None:
    upstream.valid_keys = {"k1", "k3"}
    channel_id = await add_channel(channel_host, endpoint=upstream.url, keys="k1\nk2 \r\nk3\n")

    for _ in range(30):
        assert await chat(sdk) == "hello from m"
    used = upstream.keys_used()
    assert "Bearer k2 \r" not in used
    assert used.count("Bearer k2") == 1
    assert "Bearer k1" in used
    assert "Bearer k3" in used
    shown = await channel_host.ctx.services["channels"].manager.get(channel_id)
    assert shown.enabled
    assert [key.enabled for key in shown.keys] == [True, False, True]


async def test_all_keys_dead_is_5xx(channel_host: TestHost, sdk: openai.AsyncOpenAI, upstream: Upstream) -> None:
    upstream.valid_keys = set()
    await add_channel(channel_host, endpoint=upstream.url, keys="k1\nk2", retry=3)

    for _ in range(5):
        with pytest.raises(openai.APIStatusError) as caught:
            await chat(sdk)
        assert caught.value.status_code >= 500
    used = upstream.keys_used()
    assert sorted(used) == ["Bearer k1", "Bearer k2"]


async def test_retry_3_rejected_key_not_reused(
    channel_host: TestHost, sdk: openai.AsyncOpenAI, upstream: Upstream
) -> None:
    upstream.valid_keys = {"good"}
    await add_channel(channel_host, endpoint=upstream.url, keys="good\nrevoked", retry=3)
    for _ in range(15):
        assert await chat(sdk) == "hello from m"
    assert upstream.keys_used().count("Bearer revoked") <= 1


async def test_retry_after_cools_key(channel_host: TestHost, sdk: openai.AsyncOpenAI, upstream: Upstream) -> None:
    upstream.valid_keys = {"busy"}
    upstream.limited_keys = {"busy": "2"}
    await add_channel(channel_host, endpoint=upstream.url, keys="busy")

    with pytest.raises(openai.RateLimitError):
        await chat(sdk)
    assert len(upstream.requests) == 1

    upstream.limited_keys = {}
    with pytest.raises(openai.RateLimitError) as caught:
        await chat(sdk)
    assert caught.value.response.headers.get("retry-after") in ("1", "2", "3")
    assert len(upstream.requests) == 1

    await asyncio.sleep(2.1)
    assert await chat(sdk) == "hello from m"
    assert len(upstream.requests) == 2


async def test_disabled_channel_never_called(
    channel_host: TestHost, sdk: openai.AsyncOpenAI, upstream: Upstream
) -> None:
    other = Upstream(valid_keys={"good"})
    await other.start()
    try:
        await add_channel(channel_host, endpoint=other.url, keys="good", priority=10, enabled=False)
        await add_channel(channel_host, endpoint=upstream.url, keys="good", priority=0)
        for _ in range(5):
            assert await chat(sdk) == "hello from m"
        assert other.requests == []
        assert len(upstream.requests) == 5
    finally:
        await other.stop()


async def test_mapped_model_echoes_requested_name(
    channel_host: TestHost, sdk: openai.AsyncOpenAI, upstream: Upstream
) -> None:
    await add_channel(channel_host, endpoint=upstream.url, keys="good", models=[], mapping="m>a\na>c")
    completion = await sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert completion.model == "m"
    assert upstream.requests[0].model == "c"
    assert completion.choices[0].message.content == "hello from c"
