"""Decoding OpenAI chat bodies and encoding canonical events back, without a server."""

from __future__ import annotations

import json

import pytest

from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import (
    Finish,
    ImagePart,
    ReasoningDelta,
    StreamError,
    TextDelta,
    TextPart,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from chatnio_host.relay.openai_format import (
    OpenAIResponseBuilder,
    OpenAIStreamEncoder,
    decode_chat_request,
    parse_json_body,
)

PNG_URL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _events(raw: bytes) -> list[str]:
    assert raw.endswith(b"\n\n")
    return [block.decode() for block in raw.split(b"\n\n") if block]


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],', None),
        (b"", None),
        (b"[1,2]", None),
        (b'{"model":"gpt-4o-mini"}', "messages"),
        (b'{"model":"gpt-4o-mini","messages":"hi"}', "messages"),
        (b'{"messages":[{"role":"user","content":"hi"}]}', "model"),
        (b'{"model":"m","stream":"yes","messages":[{"role":"user","content":"hi"}]}', "stream"),
        (b'{"model":"m","messages":[{"role":"robot","content":"hi"}]}', "messages[0].role"),
        (b'{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}',
         "messages[0].content[0].image_url.url"),
        (b'{"model":"m","max_tokens":"5","messages":[{"role":"user","content":"hi"}]}', "max_tokens"),
        (b'{"model":"m","messages":[{"role":"tool","content":"x"}]}', "messages[0].tool_call_id"),
    ],
)
def test_decode_rejects_bad_body(raw: bytes, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_chat_request(parse_json_body(raw))
    assert caught.value.status == 400
    assert caught.value.type == "invalid_request_error"
    assert caught.value.param == param
    if param:
        assert param in caught.value.message


def test_decode_keeps_every_field() -> None:
    body = {
        "model": "gpt-4o",
        "stream": True,
        "stream_options": {"include_usage": True},
        "n": 2,
        "seed": 7,
        "max_tokens": 256,
        "max_completion_tokens": 300,
        "response_format": {"type": "json_object"},
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "logit_bias": {"50256": -100},
        "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                         {"type": "image_url", "image_url": {"url": PNG_URL, "detail": "low"}}]},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_a", "content": "42"},
        ],
    }
    request = decode_chat_request(body)
    assert request.stream is True
    assert request.include_usage is True
    assert request.n == 2
    assert request.seed == 7
    assert request.max_tokens == 256
    assert request.output_limit == 300
    assert request.response_format == {"type": "json_object"}
    assert request.tool_choice == "f"
    assert request.tools is not None and request.tools[0].name == "f"
    assert request.extra == {"logit_bias": {"50256": -100}}
    assert request.messages[0].role == "system"
    image = request.messages[1].content[1]
    assert isinstance(image, ImagePart)
    assert image.media_type == "image/png"
    assert image.data == PNG_URL.split(",", 1)[1]
    assert image.detail == "low"
    assert isinstance(request.messages[1].content[0], TextPart)
    assert request.messages[2].tool_calls[0].id == "call_a"
    assert request.messages[3].tool_call_id == "call_a"


def test_stream_encoder_keeps_indices() -> None:
    encoder = OpenAIStreamEncoder(model="gpt-4o", response_id="chatcmpl-1", created=1, include_usage=False)
    raw = b"".join(
        encoder.encode(event)
        for event in [
            TextDelta("AAA", index=0),
            TextDelta("BBB", index=1),
            ToolCallDelta(tool_index=1, id="call_b", name="g", arguments=""),
            ToolCallDelta(tool_index=1, arguments='{"y":2}'),
            Finish("stop", index=0),
            UsageEvent(Usage(3, 4)),
        ]
    ) + encoder.close()
    blocks = _events(raw)
    assert blocks[-1] == "data: [DONE]"
    chunks = [json.loads(block[len("data: "):]) for block in blocks[:-1]]
    assert [chunk["choices"][0]["index"] for chunk in chunks] == [0, 1, 0, 0, 0]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "AAA"}
    assert chunks[2]["choices"][0]["delta"]["tool_calls"][0] == {
        "index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": ""}
    }
    assert chunks[3]["choices"][0]["delta"]["tool_calls"][0] == {"index": 1, "function": {"arguments": '{"y":2}'}}
    assert all(chunk["model"] == "gpt-4o" for chunk in chunks)
    assert not any("usage" in chunk for chunk in chunks)


def test_stream_encoder_usage_only_when_asked() -> None:
    encoder = OpenAIStreamEncoder(model="m", response_id="c", created=1, include_usage=True)
    encoder.encode(TextDelta("OK"))
    encoder.encode(UsageEvent(Usage(10, 50)))
    blocks = _events(encoder.close())
    assert blocks[-1] == "data: [DONE]"
    usage_chunk = json.loads(blocks[0][len("data: "):])
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens"] == 10
    assert usage_chunk["usage"]["completion_tokens"] == 50
    assert usage_chunk["usage"]["total_tokens"] == 60


def test_stream_error_has_no_done() -> None:
    encoder = OpenAIStreamEncoder(model="m", response_id="c", created=1, include_usage=True)
    encoder.encode(TextDelta("Hel"))
    raw = encoder.encode(StreamError("Engine queue full", type="server_error", code="503"))
    assert json.loads(raw[len(b"data: "):]) == {
        "error": {"message": "Engine queue full", "type": "server_error", "param": None, "code": "503"}
    }
    assert encoder.close() == b""


def test_response_builder_merges_by_index() -> None:
    builder = OpenAIResponseBuilder(model="gpt-4o", response_id="c", created=1)
    for event in [
        ReasoningDelta("think"),
        ToolCallDelta(tool_index=0, id="call_a", name="f"),
        ToolCallDelta(tool_index=1, id="call_b", name="g"),
        ToolCallDelta(tool_index=1, arguments='{"y":2}'),
        ToolCallDelta(tool_index=0, arguments='{"x":1}'),
        Finish("tool_calls"),
        TextDelta("second", index=1),
        Finish("stop", index=1),
        UsageEvent(Usage(5, 11)),
    ]:
        builder.add(event)
    body = builder.body()
    first, second = body["choices"]
    assert first["message"]["content"] is None
    assert first["message"]["reasoning_content"] == "think"
    assert [call["function"]["arguments"] for call in first["message"]["tool_calls"]] == ['{"x":1}', '{"y":2}']
    assert [call["id"] for call in first["message"]["tool_calls"]] == ["call_a", "call_b"]
    assert first["finish_reason"] == "tool_calls"
    assert second == {
        "index": 1, "message": {"role": "assistant", "content": "second", "refusal": None},
        "logprobs": None, "finish_reason": "stop",
    }
    assert body["usage"]["total_tokens"] == 16
