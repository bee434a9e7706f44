"""The response cache through ``/v1/chat/completions`` with the official openai SDK.

A repeated request is answered from the cache (the fake vendor sees it once), replays the same
chunks, tool calls and finish reason, costs nothing and is marked in the usage record; any
single field that changes the answer misses; failures and uncacheable models are never stored.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai

from chatnio_host.relay.cache import SECTION, CacheSettings
from chatnio_host.testing import TestHost
from chatnio_host.testing_vendors import Reply
from chatnio_host.testing_vendors.openai import FakeOpenAI, chat_chunk
from tests.relay.relay_world import (
    add_channel,
    balance_micro,
    make_account,
    serve,
    set_token_price,
    wait_for_records,
)

CACHED_MODEL = "gpt-4o-mini"
OTHER_MODEL = "gpt-4o"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
    },
}


async def prepare(host: TestHost, vendor: FakeOpenAI) -> Any:
    """Price both models, add a channel to the vendor, cache only CACHED_MODEL; return an account."""
    await set_token_price(host, [CACHED_MODEL, OTHER_MODEL], input="0.5", output="1.5")
    await add_channel(host, endpoint=vendor.url, models=[CACHED_MODEL, OTHER_MODEL])
    await host.ctx.site.put(SECTION, CacheSettings(mode="list", models=[CACHED_MODEL]))
    return await make_account(host, points=50)


def chat_calls(vendor: FakeOpenAI) -> int:
    return len(vendor.requests_to("/chat/completions"))


def sdk_for(base_url: str, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)


async def test_repeat_served_from_cache(open_hosts: Any) -> None:
    async with open_hosts() as (host,), FakeOpenAI() as vendor, serve(host) as base_url:
        account = await prepare(host, vendor)
        sdk = sdk_for(base_url, account.key)
        messages = [{"role": "user", "content": "hello cache"}]

        first = await sdk.chat.completions.create(model=CACHED_MODEL, messages=messages)
        balance_after_first = await balance_micro(host, account.user_id)
        second = await sdk.chat.completions.create(model=CACHED_MODEL, messages=messages)

        assert chat_calls(vendor) == 1
        assert second.choices[0].message.content == first.choices[0].message.content == "hello cache"
        assert second.choices[0].finish_reason == first.choices[0].finish_reason == "stop"
        assert second.model == CACHED_MODEL
        assert await balance_micro(host, account.user_id) == balance_after_first

        records = await wait_for_records(host, account.user_id, 2)
        assert [record.cached for record in records] == [False, True]
        assert records[0].points > 0
        assert records[1].points == 0
        assert records[1].status == "success"


async def test_stream_replay_same_shape(open_hosts: Any) -> None:
    async with open_hosts() as (host,), FakeOpenAI() as vendor, serve(host) as base_url:
        account = await prepare(host, vendor)
        sdk = sdk_for(base_url, account.key)
        messages = [{"role": "user", "content": "one two three four five"}]

        async def collect() -> tuple[list[str], str | None]:
            stream = await sdk.chat.completions.create(model=CACHED_MODEL, messages=messages, stream=True)
            pieces: list[str] = []
            finish = None
            async for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta.content:
                        pieces.append(choice.delta.content)
                    finish = choice.finish_reason or finish
            return pieces, finish

        first_pieces, first_finish = await collect()
        second_pieces, second_finish = await collect()
        assert chat_calls(vendor) == 1
        assert len(first_pieces) > 1
        assert second_pieces == first_pieces
        assert "".join(second_pieces) == "one two three four five"
        assert second_finish == first_finish == "stop"

        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            raw = await client.post(
                "/v1/chat/completions",
                headers={"Authorization": f"Bearer {account.key}"},
                json={"model": CACHED_MODEL, "messages": messages, "stream": True},
            )
        data_lines = [line for line in raw.text.splitlines() if line.startswith("data: ")]
        assert data_lines[-1] == "data: [DONE]"
        assert chat_calls(vendor) == 1


async def test_single_field_variants_miss(open_hosts: Any) -> None:
    async with open_hosts() as (host,), FakeOpenAI() as vendor, serve(host) as base_url:
        account = await prepare(host, vendor)
        sdk = sdk_for(base_url, account.key)
        base: dict[str, Any] = {"model": CACHED_MODEL, "messages": [{"role": "user", "content": "variant base"}]}
        await sdk.chat.completions.create(**base)
        await sdk.chat.completions.create(**base)
        assert chat_calls(vendor) == 1

        variants: list[dict[str, Any]] = [
            {"messages": [{"role": "user", "content": "variant other"}]},
            {"temperature": 0},
            {"temperature": 0.7},
            {"max_tokens": 50},
            {"top_p": 0.5},
            {"stop": ["zzz"]},
            {"n": 2},
            {"seed": 7},
            {"tools": [WEATHER_TOOL]},
            {"tools": [WEATHER_TOOL], "tool_choice": "none"},
            {"response_format": {"type": "json_object"}},
        ]
        for number, variant in enumerate(variants, start=2):
            await sdk.chat.completions.create(**{**base, **variant})
            assert chat_calls(vendor) == number, f"variant {variant} was served from the cache"

        await sdk.chat.completions.create(**{**base, "temperature": 0})
        assert chat_calls(vendor) == len(variants) + 1


async def test_uncacheable_model_not_stored(open_hosts: Any) -> None:
    async with open_hosts() as (host,), FakeOpenAI() as vendor, serve(host) as base_url:
        account = await prepare(host, vendor)
        sdk = sdk_for(base_url, account.key)
        messages = [{"role": "user", "content": "not cached"}]
        await sdk.chat.completions.create(model=OTHER_MODEL, messages=messages)
        await sdk.chat.completions.create(model=OTHER_MODEL, messages=messages)
        assert chat_calls(vendor) == 2


async def test_tool_call_answer_replayed(open_hosts: Any) -> None:
    async with open_hosts() as (host,), FakeOpenAI() as vendor, serve(host) as base_url:
        account = await prepare(host, vendor)
        sdk = sdk_for(base_url, account.key)
        request = {
            "model": CACHED_MODEL,
            "messages": [{"role": "user", "content": "weather in Paris"}],
            "tools": [WEATHER_TOOL],
        }
        first = await sdk.chat.completions.create(**request)
        second = await sdk.chat.completions.create(**request)
        assert chat_calls(vendor) == 1
        first_call = first.choices[0].message.tool_calls[0]
        second_call = second.choices[0].message.tool_calls[0]
        assert second.choices[0].finish_reason == "tool_calls"
        assert (second_call.id, second_call.function.name) == (first_call.id, first_call.function.name)
        assert json.loads(second_call.function.arguments) == json.loads(first_call.function.arguments)

        stream = await sdk.chat.completions.create(**request, stream=True)
        names = [
            call.function.name
            async for chunk in stream
            for choice in chunk.choices
            for call in (choice.delta.tool_calls or [])
            if call.function and call.function.name
        ]
        assert names == ["get_weather"]
        assert chat_calls(vendor) == 1


async def test_failed_stream_not_cached(open_hosts: Any) -> None:
    async with open_hosts() as (host,), FakeOpenAI() as vendor, serve(host) as base_url:
        account = await prepare(host, vendor)
        sdk = sdk_for(base_url, account.key)
        messages = [{"role": "user", "content": "break midway"}]
        vendor.enqueue(
            Reply.sse(
                [chat_chunk({"role": "assistant", "content": "partial "}), 0.05, chat_chunk({"content": "answer"})],
                ending="reset",
            ),
            path="/chat/completions",
        )
        pieces: list[str] = []
        failed = False
        try:
            stream = await sdk.chat.completions.create(model=CACHED_MODEL, messages=messages, stream=True)
            async for chunk in stream:
                pieces.extend(choice.delta.content or "" for choice in chunk.choices)
        except openai.APIError:
            failed = True
        assert failed or "".join(pieces) == "partial answer"

        again = await sdk.chat.completions.create(model=CACHED_MODEL, messages=messages)
        assert chat_calls(vendor) == 2
        assert again.choices[0].message.content == "break midway"


async def test_hit_shared_between_instances(open_hosts: Any, stack: str) -> None:
    async with open_hosts(2) as (first_host, second_host), FakeOpenAI() as vendor:
        account = await prepare(first_host, vendor)
        messages = [{"role": "user", "content": "across replicas"}]
        async with serve(first_host) as first_url, serve(second_host) as second_url:
            await sdk_for(first_url, account.key).chat.completions.create(model=CACHED_MODEL, messages=messages)
            answer = await sdk_for(second_url, account.key).chat.completions.create(model=CACHED_MODEL, messages=messages)
        assert answer.choices[0].message.content == "across replicas"
        shared = stack.endswith("redis")
        assert chat_calls(vendor) == (1 if shared else 2)
