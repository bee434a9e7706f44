"""The plugin inside a running host: the official openai SDK through the relay to the fake vendor."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest
from openai_helpers import CHANNEL_KEY

import chatnio_openai
from chatnio_host.billing import ledger
from chatnio_host.billing.money import to_micro
from chatnio_host.billing.prices import PRICES_SECTION, PriceRule, PricesConfig
from chatnio_host.channels.schemas import ChannelCreate
from chatnio_host.testing import TestHost
from chatnio_host.testing_vendors import FakeOpenAI

MODELS = ["gpt-4o-mini", "gpt-4o"]


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[TestHost]:
    async with TestHost(tmp_path, plugins=[("openai", chatnio_openai)]) as test_host:
        config = await test_host.ctx.site.get(PRICES_SECTION, PricesConfig)
        rule = PriceRule(type="token", models=MODELS, input=Decimal("1"), output=Decimal("2"))
        await test_host.ctx.site.put(PRICES_SECTION, PricesConfig(rules=[*config.rules, rule]))
        yield test_host


async def sdk_for(host: TestHost) -> openai.AsyncOpenAI:
    ctx = host.ctx
    auth = ctx.services["auth"]
    async with ctx.db.transaction() as session:
        user = await auth.create_user(session, username=f"u{secrets.token_hex(4)}", password="correct horse battery")
        user_id = user.id
        await ledger.credit(session, ctx.db.backend, user_id=user_id, delta=to_micro("100"), kind="admin",
                            now=ctx.clock.now(), note="test grant")
    token = await auth.issue_token(await auth.get_user(user_id))
    response = await host.client.post("/api/keys", json={"name": "sdk"}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    transport = httpx.ASGITransport(app=host.app, client=("127.0.0.1", 50001))
    http_client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    return openai.AsyncOpenAI(api_key=response.json()["key"], base_url="http://testserver/v1",
                              http_client=http_client, max_retries=0)


async def add_channel(host: TestHost, **fields) -> int:
    values = {"name": f"ch-{secrets.token_hex(3)}", "type": "openai", "keys": CHANNEL_KEY, "models": MODELS}
    values.update(fields)
    channel = await host.ctx.services["channels"].manager.create(ChannelCreate(**values))
    return channel.id


async def test_openai_channel_stream_and_not(host: TestHost, vendor: FakeOpenAI) -> None:
    await add_channel(host, endpoint=vendor.url)
    client = await sdk_for(host)
    answer = await client.chat.completions.create(model="gpt-4o-mini", max_tokens=64,
                                                  messages=[{"role": "user", "content": "one two three"}])
    assert answer.choices[0].message.content == "one two three"
    assert answer.model == "gpt-4o-mini"
    assert answer.usage.completion_tokens == 3
    sent = vendor.requests[0].json()
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["max_tokens"] == 64
    assert vendor.requests[0].headers["authorization"] == f"Bearer {CHANNEL_KEY}"

    stream = await client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                  messages=[{"role": "user", "content": "a b"}])
    texts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
    assert "".join(texts) == "a b"
    await client.close()


async def test_azure_channel_through_host(host: TestHost, vendor: FakeOpenAI) -> None:
    await add_channel(host, type="azure", endpoint=vendor.url, keys="AZKEY", mapping="gpt-4o>prod-gpt4o",
                      settings={"api_version": "2024-02-01"})
    client = await sdk_for(host)
    stream = await client.chat.completions.create(model="gpt-4o", stream=True,
                                                  messages=[{"role": "user", "content": "hello azure"}])
    chunks = [chunk async for chunk in stream]
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices) == "hello azure"
    assert all(chunk.model == "gpt-4o" for chunk in chunks)
    request = vendor.requests[0]
    assert request.target == "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-02-01"
    assert request.headers["api-key"] == "AZKEY"
    await client.close()


async def test_o_series_token_limit_through_host(host: TestHost, vendor: FakeOpenAI) -> None:
    config = await host.ctx.site.get(PRICES_SECTION, PricesConfig)
    rule = PriceRule(type="token", models=["o3-mini"], input=Decimal("1"), output=Decimal("2"))
    await host.ctx.site.put(PRICES_SECTION, PricesConfig(rules=[*config.rules, rule]))
    await add_channel(host, endpoint=vendor.url, models=["o3-mini"])
    client = await sdk_for(host)
    await client.chat.completions.create(model="o3-mini", max_tokens=256, messages=[{"role": "user", "content": "x"}])
    sent = vendor.requests[0].json()
    assert sent["max_completion_tokens"] == 256
    assert "max_tokens" not in sent
    await client.close()
