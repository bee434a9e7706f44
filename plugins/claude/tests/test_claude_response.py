"""Anthropic stream events and messages decoded into canonical events."""

from __future__ import annotations

import json

import pytest

from chatnio_host.channels.base import UpstreamFailure
from chatnio_host.relay.canonical import Finish, ReasoningDelta, StreamError, TextDelta, ToolCallDelta, UsageEvent

from chatnio_claude.response import MessageDecoder, normalise_usage

B09_EVENTS = [
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


def decode_all(events: list[dict]) -> list:
    decoder = MessageDecoder()
    out = []
    for event in events:
        out.extend(decoder.feed(event))
    out.extend(decoder.finish())
    return out


def test_tool_use_stream_counts_tool_calls() -> None:
    events = decode_all(B09_EVENTS)
    assert events[0] == TextDelta("Checking.")
    tool_events = [event for event in events if isinstance(event, ToolCallDelta)]
    assert tool_events[0] == ToolCallDelta(0, id="toolu_01A", name="get_weather", arguments="")
    assert tool_events[1] == ToolCallDelta(0, arguments="{\"location\": \"San Fra")
    assert tool_events[3] == ToolCallDelta(1, id="toolu_01B", name="get_time", arguments="")
    first = "".join(event.arguments for event in tool_events if event.tool_index == 0)
    second = "".join(event.arguments for event in tool_events if event.tool_index == 1)
    assert json.loads(first) == {"location": "San Francisco, CA", "unit": "celsius"}
    assert second == "{}"
    assert events[-2] == Finish("tool_calls")
    assert isinstance(events[-1], UsageEvent)
    assert events[-1].usage.input_tokens == 400
    assert events[-1].usage.output_tokens == 58


def test_fragment_emitted_before_block_stop() -> None:
    decoder = MessageDecoder()
    for event in B09_EVENTS[:7]:
        produced = decoder.feed(event)
    assert produced == [ToolCallDelta(0, arguments="{\"location\": \"San Fra")]


def test_usage_includes_cache_reads_and_writes() -> None:
    usage = normalise_usage({"input_tokens": 25, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 200,
                             "output_tokens": 40})
    assert usage.input_tokens == 1225
    assert usage.cached_input_tokens == 1000
    assert usage.cache_write_tokens == 200
    assert usage.output_tokens == 40


@pytest.mark.parametrize(("reason", "expected"), [
    ("end_turn", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"), ("stop_sequence", "stop"),
    ("refusal", "content_filter"),
])
def test_stop_reasons_mapped(reason: str, expected: str) -> None:
    decoder = MessageDecoder()
    events = decoder.decode_message({"id": "m", "type": "message", "content": [{"type": "text", "text": "hi"}],
                                     "stop_reason": reason, "usage": {"input_tokens": 1, "output_tokens": 1}})
    assert Finish(expected) in events


def test_overloaded_before_content_raises_failure() -> None:
    decoder = MessageDecoder()
    decoder.feed(B09_EVENTS[0])
    with pytest.raises(UpstreamFailure) as caught:
        decoder.feed({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert caught.value.kind == "server"
    assert caught.value.retryable


def test_error_after_content_is_stream_error() -> None:
    decoder = MessageDecoder()
    decoder.feed(B09_EVENTS[0])
    decoder.feed(B09_EVENTS[1])
    assert decoder.feed({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Partial"}})
    events = decoder.feed({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert events == [StreamError("Overloaded", type="overloaded_error")]
    assert decoder.finish() == []


def test_truncated_stream_ends_with_error() -> None:
    decoder = MessageDecoder()
    for event in B09_EVENTS[:3]:
        decoder.feed(event)
    events = decoder.finish()
    assert len(events) == 1
    assert isinstance(events[0], StreamError)


def test_thinking_with_signature_decoded() -> None:
    events = decode_all([
        B09_EVENTS[0],
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm."}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
        {"type": "message_stop"},
    ])
    assert events[:2] == [ReasoningDelta("Hmm."), ReasoningDelta("", signature="sig")]


def test_non_stream_message_with_tools() -> None:
    events = MessageDecoder().decode_message({
        "id": "msg", "type": "message", "role": "assistant", "stop_reason": "tool_use",
        "content": [{"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"location": "Paris"}},
                    {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}}],
        "usage": {"input_tokens": 400, "output_tokens": 58},
    })
    calls = [event for event in events if isinstance(event, ToolCallDelta)]
    assert calls[0] == ToolCallDelta(0, id="toolu_01A", name="get_weather", arguments="")
    assert calls[1] == ToolCallDelta(0, arguments='{"location":"Paris"}')
    assert calls[2] == ToolCallDelta(1, id="toolu_01B", name="get_time", arguments="")
    assert calls[3] == ToolCallDelta(1, arguments="{}")
