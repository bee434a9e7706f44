"""Gemini responses decoded into canonical events."""

from __future__ import annotations

import json

import pytest

from chatnio_host.channels.base import UpstreamFailure
from chatnio_host.relay.canonical import Finish, ReasoningDelta, StreamError, TextDelta, ToolCallDelta, UsageEvent

from chatnio_gemini.response import ResponseDecoder, finish_reason, normalise_usage


def whole(chunk: dict) -> list:
    decoder = ResponseDecoder()
    return decoder.feed(chunk) + decoder.finish()


def test_safety_block_without_content() -> None:
    events = whole({"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": [
        {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}]}],
        "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12}})
    assert events[0] == Finish("content_filter")
    assert events[1].usage.input_tokens == 12
    assert events[1].usage.output_tokens == 0


def test_prompt_block_is_content_filter() -> None:
    events = whole({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                    "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}})
    assert events[0] == Finish("content_filter")
    assert events[1].usage.input_tokens == 8


def test_stream_safety_after_text() -> None:
    decoder = ResponseDecoder()
    events = decoder.feed({"candidates": [{"content": {"parts": [{"text": "Some"}], "role": "model"}, "index": 0}]})
    events += decoder.feed({"candidates": [{"content": {"parts": [{"text": " more"}], "role": "model"},
                                            "finishReason": "SAFETY", "index": 0}],
                            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 2, "totalTokenCount": 14}})
    events += decoder.finish()
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Some", " more"]
    assert events[-2] == Finish("content_filter")
    assert events[-1].usage.output_tokens == 2


@pytest.mark.parametrize(("reason", "expected"), [
    ("MAX_TOKENS", "length"), ("STOP", "stop"), ("RECITATION", "content_filter"), ("BLOCKLIST", "content_filter"),
    ("SPII", "content_filter"), ("PROHIBITED_CONTENT", "content_filter"), ("SAFETY", "content_filter"),
])
def test_finish_reason_table(reason: str, expected: str) -> None:
    assert finish_reason(reason, has_tool_calls=False) == expected


def test_stop_with_function_call_is_tool_calls() -> None:
    assert finish_reason("STOP", has_tool_calls=True) == "tool_calls"


def test_parallel_function_calls_kept_apart() -> None:
    events = whole({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "getFileContents", "args": {"path": "a"}}},
        {"functionCall": {"name": "listFiles", "args": {}}},
        {"functionCall": {"name": "listFiles", "args": {"dir": "b"}}},
    ]}, "finishReason": "STOP", "index": 0}]})
    calls: dict[int, list[ToolCallDelta]] = {}
    for event in events:
        if isinstance(event, ToolCallDelta):
            calls.setdefault(event.tool_index, []).append(event)
    assert [deltas[0].name for deltas in calls.values()] == ["getFileContents", "listFiles", "listFiles"]
    assert len({deltas[0].id for deltas in calls.values()}) == 3
    assert json.loads("".join(d.arguments for d in calls[2])) == {"dir": "b"}
    assert Finish("tool_calls") in events


def test_usage_from_last_chunk_with_thoughts_and_cache() -> None:
    decoder = ResponseDecoder()
    decoder.feed({"candidates": [{"content": {"parts": [{"text": "thinking", "thought": True}]}, "index": 0}],
                  "usageMetadata": {"promptTokenCount": 5}})
    decoder.feed({"candidates": [{"content": {"parts": [{"text": "hi"}]}, "finishReason": "STOP", "index": 0}],
                  "usageMetadata": {"promptTokenCount": 100, "cachedContentTokenCount": 60, "candidatesTokenCount": 7,
                                    "thoughtsTokenCount": 20, "totalTokenCount": 127}})
    usage = decoder.finish()[-1].usage
    assert usage.input_tokens == 100
    assert usage.cached_input_tokens == 60
    assert usage.output_tokens == 27
    assert usage.reasoning_tokens == 20


def test_thought_parts_and_signature() -> None:
    events = whole({"candidates": [{"content": {"parts": [
        {"text": "Let me see.", "thought": True},
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "sig"}]}, "finishReason": "STOP", "index": 0}]})
    assert events[0] == ReasoningDelta("Let me see.")
    assert events[1] == ReasoningDelta("", signature="sig")
    assert isinstance(events[2], ToolCallDelta)


def test_error_before_content_raises() -> None:
    decoder = ResponseDecoder()
    with pytest.raises(UpstreamFailure) as caught:
        decoder.feed({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}})
    assert caught.value.kind == "server"


def test_error_after_content_is_stream_error() -> None:
    decoder = ResponseDecoder()
    decoder.feed({"candidates": [{"content": {"parts": [{"text": "Hel"}]}, "index": 0}]})
    events = decoder.feed({"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}})
    assert isinstance(events[0], StreamError)
    assert decoder.finish() == []


def test_truncated_stream_is_stream_error() -> None:
    decoder = ResponseDecoder()
    decoder.feed({"candidates": [{"content": {"parts": [{"text": "Hel"}]}, "index": 0}]})
    assert isinstance(decoder.finish()[0], StreamError)


def test_normalise_usage_counts_tool_prompt() -> None:
    usage = normalise_usage({"promptTokenCount": 10, "toolUsePromptTokenCount": 5, "candidatesTokenCount": 3})
    assert usage.input_tokens == 15
    assert usage.output_tokens == 3
