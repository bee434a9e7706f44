"""``ResponseCache`` on its own: keys, completeness, slots, expiry, the memory bound and presets."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from chatnio_host.billing.prices import PRICES_SECTION, PriceRule, PricesConfig
from chatnio_host.clock import FixedClock
from chatnio_host.relay.cache import SECTION, CacheSettings, ResponseCache, cache_key, decode_events, encode_events
from chatnio_host.relay.canonical import (
    ChatRequest,
    Finish,
    Message,
    StreamError,
    TextDelta,
    TextPart,
    ToolCallDelta,
    Usage,
    UsageEvent,
)

ANSWER = [TextDelta("Hel"), TextDelta("lo"), Finish("stop"), UsageEvent(Usage(input_tokens=3, output_tokens=2))]


def request(text: str = "hi", **fields: Any) -> ChatRequest:
    return ChatRequest(model=fields.pop("model", "m"), messages=[Message(role="user", content=[TextPart(text)])], **fields)


def test_key_ignores_caller_and_stream() -> None:
    assert cache_key(request(user="alice", stream=True)) == cache_key(request(user="bob"))
    assert cache_key(request(temperature=1)) == cache_key(request(temperature=1.0))
    assert cache_key(request(max_tokens=5)) == cache_key(request(max_completion_tokens=5))


def test_key_changes_with_each_field() -> None:
    base = cache_key(request())
    variants = [
        request(model="m2"),
        request(text="other"),
        request(temperature=0),
        request(max_tokens=5),
        request(max_completion_tokens=6),
        request(top_p=0.5),
        request(stop=["x"]),
        request(n=2),
        request(seed=1),
        request(tool_choice="none"),
        request(response_format={"type": "json_object"}),
        request(presence_penalty=0.1),
        request(extra={"logit_bias": {"1": 5}}),
    ]
    keys = [cache_key(variant) for variant in variants]
    assert base not in keys
    assert len(set(keys)) == len(keys)


def test_events_round_trip() -> None:
    events = [ToolCallDelta(tool_index=0, id="call_1", name="f", arguments='{"a":1}'), Finish("tool_calls"), *ANSWER[3:]]
    assert decode_events(encode_events(events)) == events


async def test_only_complete_answers_stored(open_hosts: Any) -> None:
    async with open_hosts() as (host,):
        await host.ctx.site.put(SECTION, CacheSettings(mode="all"))
        cache: ResponseCache = host.ctx.services["cache"]
        incomplete = [
            [TextDelta("partial"), StreamError("reset")],
            [TextDelta("partial")],
            [TextDelta("blocked"), Finish("content_filter")],
            [TextDelta("a"), Finish("stop"), TextDelta("b", index=1)],
            [Finish("stop")],
        ]
        for number, events in enumerate(incomplete):
            assert await cache.store(request(f"q{number}"), events) is False
            assert await cache.lookup(request(f"q{number}")) is None
        assert await cache.store(request("whole"), ANSWER) is True
        assert await cache.lookup(request("whole")) == ANSWER
        assert await cache.store(request('<search_results id="abc">\nresults'), ANSWER) is False


async def test_mode_none_and_list(open_hosts: Any) -> None:
    async with open_hosts() as (host,):
        cache: ResponseCache = host.ctx.services["cache"]
        assert await cache.store(request(), ANSWER) is False
        await host.ctx.site.put(SECTION, CacheSettings(mode="list", models=["m"]))
        assert await cache.store(request(model="web-m"), ANSWER) is True
        assert await cache.lookup(request(model="web-m")) == ANSWER
        assert await cache.lookup(request(model="m")) is None
        assert await cache.store(request(model="other"), ANSWER) is False


async def test_free_models_preset(open_hosts: Any) -> None:
    async with open_hosts() as (host,):
        rules = [
            PriceRule(type="none", models=["free-model"]),
            PriceRule(type="token", models=["paid-model"], input=Decimal("1"), output=Decimal("1")),
        ]
        await host.ctx.site.put(PRICES_SECTION, PricesConfig(rules=rules))
        await host.ctx.site.put(SECTION, CacheSettings(mode="free"))
        cache: ResponseCache = host.ctx.services["cache"]
        assert await cache.cacheable("free-model") is True
        assert await cache.cacheable("web-free-model") is True
        assert await cache.cacheable("paid-model") is False
        assert await cache.cacheable("unpriced") is False


async def test_several_answers_per_key(open_hosts: Any) -> None:
    async with open_hosts() as (host,):
        await host.ctx.site.put(SECTION, CacheSettings(mode="all", size=3))
        cache: ResponseCache = host.ctx.services["cache"]
        cache.rng = random.Random(7)
        answers = [[TextDelta(f"answer {i}"), Finish("stop")] for i in range(3)]
        for answer in answers:
            assert await cache.store(request(), answer) is True
        served = {(await cache.lookup(request()))[0].text for _ in range(40)}  # type: ignore[index]
        assert served == {"answer 0", "answer 1", "answer 2"}


async def test_entries_expire(open_hosts: Any, stack: str) -> None:
    async with open_hosts() as (host,):
        await host.ctx.site.put(SECTION, CacheSettings(mode="all", ttl=1))
        cache: ResponseCache = host.ctx.services["cache"]
        await cache.store(request(), ANSWER)
        assert await cache.lookup(request()) == ANSWER
        if stack.endswith("redis"):
            ttl = await host.ctx.state.ttl("response-cache:" + cache.key(request()) + ":0")
            assert ttl is not None
            assert 0 < ttl <= 1
        else:
            clock = FixedClock(host.ctx.clock.now() + dt.timedelta(seconds=2))
            host.ctx.clock = clock
            assert await cache.lookup(request()) is None


async def test_memory_bound_evicts_oldest(open_hosts: Any, stack: str) -> None:
    async with open_hosts() as (host,):
        await host.ctx.site.put(SECTION, CacheSettings(mode="all", memory_max_bytes=2048))
        cache: ResponseCache = host.ctx.services["cache"]
        big = [TextDelta("x" * 600), Finish("stop")]
        for number in range(5):
            await cache.store(request(f"q{number}"), big)
        if stack.endswith("redis"):
            assert await cache.lookup(request("q0")) == big
        else:
            assert await cache.lookup(request("q0")) is None
            assert await cache.lookup(request("q4")) == big
