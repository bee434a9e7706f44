"""The claude adapter against the fake Anthropic vendor, through the host's upstream client."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from chatnio_host.channels.base import UpstreamFailure, UpstreamTarget
from chatnio_host.relay.canonical import (
    ChatRequest,
    Finish,
    Message,
    StreamError,
    TextDelta,
    TextPart,
    Tool,
    ToolCallDelta,
    UsageEvent,
)
from chatnio_host.relay.upstream import AiohttpUpstream
from chatnio_host.testing_vendors.anthropic import FakeAnthropic, anthropic_error, anthropic_event
from chatnio_host.testing_vendors.server import Reply

from chatnio_claude.adapter import ClaudeAdapter

from test_claude_response import B09_EVENTS


async def collect(adapter: ClaudeAdapter, request: ChatRequest, target: UpstreamTarget) -> list:
    return [event async for event in adapter.chat(request, target)]


def hello(stream: bool = True, **kwargs) -> ChatRequest:
    return ChatRequest(model="claude", stream=stream, messages=[
        Message(role="system", content=[TextPart("Be brief.")]), Message(role="user", content=[TextPart("hello there")])],
        **kwargs)


async def test_stream_sends_headers_and_decodes(upstream: AiohttpUpstream, vendor: FakeAnthropic,
                                                target: UpstreamTarget) -> None:
    events = await collect(ClaudeAdapter(upstream), hello(), target)
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert text == "hello there"
    assert Finish("stop") in events
    sent = vendor.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == target.key
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    body = sent.json()
    assert body["system"] == "Be brief."
    assert body["max_tokens"] == 4096
    assert body["stream"] is True


async def test_non_stream_tool_call(upstream: AiohttpUpstream, vendor: FakeAnthropic, target: UpstreamTarget) -> None:
    request = hello(stream=False, tools=[Tool(name="get_time")])
    events = await collect(ClaudeAdapter(upstream), request, target)
    calls = [event for event in events if isinstance(event, ToolCallDelta)]
    assert calls[0].name == "get_time"
    assert json.loads("".join(call.arguments for call in calls)) == {"text": "hello there"}
    assert Finish("tool_calls") in events
    assert vendor.requests[0].json()["tools"] == [{"name": "get_time", "input_schema": {"type": "object", "properties": {}}}]


async def test_tool_fragments_not_buffered(upstream: AiohttpUpstream, vendor: FakeAnthropic,
                                           target: UpstreamTarget) -> None:
    frames = [anthropic_event(event["type"], event) for event in B09_EVENTS]
    # One second of silence before the content_block_stop of the tool block at index 1.
    vendor.enqueue(Reply.sse([*frames[:8], 1.0, *frames[8:]]))
    adapter = ClaudeAdapter(upstream)
    started = time.monotonic()
    seen_at: float | None = None
    events = []
    async for event in adapter.chat(hello(tools=[Tool(name="get_weather"), Tool(name="get_time")]), target):
        events.append(event)
        if isinstance(event, ToolCallDelta) and "San Fra" in event.arguments:
            seen_at = time.monotonic() - started
    assert seen_at is not None and seen_at < 0.9
    usage = [event for event in events if isinstance(event, UsageEvent)][-1].usage
    assert (usage.input_tokens, usage.output_tokens) == (400, 58)


async def test_overloaded_before_content_falls_through(upstream: AiohttpUpstream, vendor: FakeAnthropic,
                                                       target: UpstreamTarget) -> None:
    vendor.enqueue(Reply.sse([anthropic_event(B09_EVENTS[0]["type"], B09_EVENTS[0]),
                              anthropic_event("error", {"type": "error", "error": {"type": "overloaded_error",
                                                                                   "message": "Overloaded"}})]))
    with pytest.raises(UpstreamFailure) as caught:
        await collect(ClaudeAdapter(upstream), hello(), target)
    assert caught.value.kind == "server"


async def test_overloaded_after_content_is_stream_error(upstream: AiohttpUpstream, vendor: FakeAnthropic,
                                                        target: UpstreamTarget) -> None:
    vendor.enqueue(Reply.sse([
        anthropic_event("message_start", {**B09_EVENTS[0], "message": {**B09_EVENTS[0]["message"],
                                                                      "usage": {"input_tokens": 30, "output_tokens": 1}}}),
        anthropic_event("content_block_start", B09_EVENTS[1]),
        anthropic_event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                "delta": {"type": "text_delta", "text": "Partial"}}),
        anthropic_event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ], ending="close"))
    events = await collect(ClaudeAdapter(upstream), hello(), target)
    assert events[0] == TextDelta("Partial")
    assert events[-1] == StreamError("Overloaded", type="overloaded_error")
    assert not any(isinstance(event, Finish) for event in events)


@pytest.mark.parametrize(("status", "error_type", "kind"), [
    (529, "overloaded_error", "server"),
    (401, "authentication_error", "auth"),
    (429, "rate_limit_error", "rate_limit"),
    (400, "invalid_request_error", "request"),
])
async def test_http_errors_classified(upstream: AiohttpUpstream, vendor: FakeAnthropic, target: UpstreamTarget,
                                      status: int, error_type: str, kind: str) -> None:
    vendor.enqueue(anthropic_error(status, error_type, f"failed with key {target.key}"))
    with pytest.raises(UpstreamFailure) as caught:
        await collect(ClaudeAdapter(upstream), hello(), target)
    assert caught.value.kind == kind
    assert target.key not in caught.value.message


async def test_bad_key_is_auth_failure(upstream: AiohttpUpstream, vendor: FakeAnthropic, target: UpstreamTarget) -> None:
    target.key = "sk-ant-wrong-key-999999"
    with pytest.raises(UpstreamFailure) as caught:
        await collect(ClaudeAdapter(upstream), hello(), target)
    assert caught.value.kind == "auth"
    assert caught.value.status == 401


async def test_stream_cut_after_content_is_stream_error(upstream: AiohttpUpstream, vendor: FakeAnthropic,
                                                        target: UpstreamTarget) -> None:
    frames = [anthropic_event(event["type"], event) for event in B09_EVENTS[:3]]
    vendor.enqueue(Reply.sse(frames, ending="close"))
    events = await collect(ClaudeAdapter(upstream), hello(), target)
    assert events[0] == TextDelta("Checking.")
    assert isinstance(events[-1], StreamError)


async def test_cancel_closes_upstream(upstream: AiohttpUpstream, vendor: FakeAnthropic, target: UpstreamTarget) -> None:
    frames = [anthropic_event(event["type"], event) for event in B09_EVENTS[:3]]
    vendor.enqueue(Reply.sse([*frames, 30.0], ending="hold"))
    generator = ClaudeAdapter(upstream).chat(hello(), target)
    assert await anext(generator) == TextDelta("Checking.")
    await generator.aclose()
    assert await vendor.requests[0].wait_closed(timeout=5)
    await asyncio.sleep(0)


async def test_stream_ends_at_message_stop_when_socket_held(upstream: AiohttpUpstream, vendor: FakeAnthropic,
                                                            target: UpstreamTarget) -> None:
    frames = [anthropic_event(event["type"], event) for event in B09_EVENTS]
    vendor.enqueue(Reply.sse(frames, ending="hold", hold_seconds=30))
    events = await asyncio.wait_for(collect(ClaudeAdapter(upstream), hello(), target), timeout=3)
    assert isinstance(events[-1], UsageEvent)
    assert Finish("tool_calls") in events
