"""The Anthropic Messages format: request decoding and event encoding."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chatnio_host.errors import InvalidRequest
from chatnio_host.plugins import load_plugins
from chatnio_host.relay.canonical import (
    Finish,
    ReasoningDelta,
    StreamError,
    TextDelta,
    ThinkingPart,
    ToolCallDelta,
    Usage,
    UsageEvent,
)

from chatnio_claude.encode import MessageBuilder, MessageStreamEncoder
from chatnio_claude.inbound import decode_messages_request


def events_of(raw: bytes) -> list[tuple[str, dict]]:
    out = []
    for block in raw.decode().split("\n\n"):
        if block:
            name_line, data_line = block.split("\n")
            out.append((name_line[len("event: "):], json.loads(data_line[len("data: "):])))
    return out


def test_decode_tool_results_thinking_and_system() -> None:
    request = decode_messages_request({
        "model": "m", "max_tokens": 100, "system": [{"type": "text", "text": "Be brief."}],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "tools": [{"name": "get_time", "input_schema": {"type": "object", "properties": {}}}],
        "messages": [
            {"role": "user", "content": "time?"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "sig"},
                                              {"type": "tool_use", "id": "t1", "name": "get_time", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "noon"},
                                         {"type": "text", "text": "thanks"}]},
        ],
    })
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "tool", "user"]
    assert request.messages[2].content == [ThinkingPart("hm", signature="sig")]
    assert request.messages[2].tool_calls[0].arguments == "{}"
    assert request.messages[3].tool_call_id == "t1"
    assert request.thinking_budget == 2048
    assert request.tool_choice == "required"
    assert request.parallel_tool_calls is False
    assert request.inbound_format == "anthropic"


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "m", "messages": []}, "max_tokens"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
    ({"model": "m", "max_tokens": 5, "messages": [], "tools": [{"type": "web_search_20250305", "name": "w"}]},
     "tools.0.type"),
    ({"max_tokens": 5, "messages": []}, "model"),
])
def test_decode_errors_name_the_field(body: dict, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_messages_request(body)
    assert caught.value.param == param


def test_stream_encoder_order_and_usage() -> None:
    encoder = MessageStreamEncoder(model="claude-x", input_tokens=7)
    raw = b"".join(encoder.encode(event) for event in [
        ReasoningDelta("think"), ReasoningDelta("", signature="sig"), TextDelta("Hi"),
        ToolCallDelta(0, id="c1", name="f", arguments=""), ToolCallDelta(0, arguments='{"a":1}'),
        Finish("tool_calls"), UsageEvent(Usage(input_tokens=1200, cached_input_tokens=1000, cache_write_tokens=100,
                                              output_tokens=9)),
    ]) + encoder.end()
    names = [name for name, _ in events_of(raw)]
    assert names == ["message_start", "ping",
                     "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                     "content_block_start", "content_block_delta", "content_block_stop",
                     "content_block_start", "content_block_delta", "content_block_stop",
                     "message_delta", "message_stop"]
    delta = events_of(raw)[-2][1]
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"] == {"input_tokens": 100, "cache_creation_input_tokens": 100,
                              "cache_read_input_tokens": 1000, "output_tokens": 9}


def test_stream_encoder_error_has_no_message_stop() -> None:
    encoder = MessageStreamEncoder(model="claude-x")
    raw = encoder.encode(TextDelta("Partial")) + encoder.encode(StreamError("Overloaded", type="overloaded_error"))
    raw += encoder.end()
    events = events_of(raw)
    assert events[-1] == ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert "message_stop" not in [name for name, _ in events]


def test_stream_encoder_without_finish_ends_with_error() -> None:
    encoder = MessageStreamEncoder(model="claude-x")
    raw = encoder.encode(TextDelta("Hel")) + encoder.end()
    assert events_of(raw)[-1][0] == "error"


def test_message_builder() -> None:
    builder = MessageBuilder(model="claude-x")
    for event in [TextDelta("Hi"), ToolCallDelta(0, id="c1", name="f", arguments='{"a"'),
                  ToolCallDelta(0, arguments=":1}"), Finish("tool_calls"), UsageEvent(Usage(input_tokens=5, output_tokens=2))]:
        builder.add(event)
    message = builder.build()
    assert message["content"] == [{"type": "text", "text": "Hi"},
                                  {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}}]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"]["input_tokens"] == 5


def test_plugin_registers_through_entry_point() -> None:
    host = load_plugins(load_entry_points=True, only={"claude"})
    report = host.report("claude")
    assert report is not None and report.status == "loaded"
    assert report.registered == {"channel_types": ["claude"], "inbound_formats": ["anthropic"]}
    listing = subprocess.run([sys.executable, "-m", "chatnio_host", "plugins", "--json"], capture_output=True,
                             text=True, check=True, env={"CHATNIO_LOAD_PLUGINS": "claude", "PATH": ""})
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["claude"]["registered"]["inbound_formats"] == ["anthropic"]


def test_cache_control_kept_for_claude_channel() -> None:
    from chatnio_claude.request import build_messages_body

    marker = {"type": "ephemeral"}
    request = decode_messages_request({
        "model": "m", "max_tokens": 100,
        "system": [{"type": "text", "text": "Long rules.", "cache_control": marker}, {"type": "text", "text": "More."}],
        "tools": [{"name": "f", "input_schema": {"type": "object", "properties": {}}, "cache_control": marker}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Big file", "cache_control": marker}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "out",
                                          "cache_control": marker}]},
        ],
    })
    body = build_messages_body(request, "claude-x", stream=False)
    assert body["system"] == [{"type": "text", "text": "Long rules.", "cache_control": marker},
                              {"type": "text", "text": "More."}]
    assert body["tools"][0]["cache_control"] == marker
    assert body["messages"][0]["content"] == [{"type": "text", "text": "Big file", "cache_control": marker}]
    assert body["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "t1", "content": "out",
                                               "cache_control": marker}]
