"""The Gemini API format: request decoding and response encoding."""

from __future__ import annotations

import json

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

from chatnio_gemini.encode import GenerateStreamEncoder, ResponseBuilder
from chatnio_gemini.inbound import camelize, decode_generate_request
from chatnio_gemini.routes import mask_query_keys


def test_decode_function_turns_match_by_name() -> None:
    request = decode_generate_request({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "weather?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "a", "args": {"x": 1}}, "thoughtSignature": "s1"},
                                        {"functionCall": {"name": "b", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "b", "response": {"ok": True}}},
                                       {"functionResponse": {"name": "a", "response": {"v": 2}}}]},
        ],
        "tools": [{"functionDeclarations": [{"name": "a", "parameters": {
            "type": "OBJECT", "properties": {"x": {"type": "INTEGER", "nullable": True}}}}, {"name": "b"}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["a"]}},
        "generationConfig": {"maxOutputTokens": 50, "thinkingConfig": {"thinkingBudget": 128}},
    }, "models/gemini-x", stream=True)
    assert request.model == "gemini-x"
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "tool", "tool"]
    assistant = request.messages[2]
    assert assistant.content == [ThinkingPart("", signature="s1")]
    ids = [call.id for call in assistant.tool_calls]
    assert [request.messages[3].tool_call_id, request.messages[4].tool_call_id] == [ids[1], ids[0]]
    assert json.loads(request.messages[4].text()) == {"v": 2}
    assert request.tools[0].parameters == {"type": "object", "properties": {"x": {"type": ["integer", "null"]}}}
    assert request.tool_choice == "a"
    assert request.max_tokens == 50
    assert request.thinking_budget == 128


def test_camelize_keeps_user_keys() -> None:
    body = camelize({"generation_config": {"thinking_config": {"include_thoughts": True}},
                     "contents": [{"parts": [{"function_call": {"name": "f", "args": {"snake_key": 1}}}]}],
                     "tools": [{"function_declarations": [{"name": "f", "parameters": {
                         "type": "object", "properties": {"snake_name": {"type": "string", "min_length": 1}}}}]}]})
    assert body["generationConfig"] == {"thinkingConfig": {"includeThoughts": True}}
    assert body["contents"][0]["parts"][0]["functionCall"]["args"] == {"snake_key": 1}
    properties = body["tools"][0]["functionDeclarations"][0]["parameters"]["properties"]
    assert properties == {"snake_name": {"type": "string", "minLength": 1}}


@pytest.mark.parametrize(("body", "param"), [
    ({"contents": []}, "contents"),
    ({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}, "contents[0].role"),
    ({"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]},
     "contents[0].parts[0].functionResponse"),
])
def test_decode_errors_name_the_field(body: dict, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_generate_request(body, "m", stream=False)
    assert caught.value.param == param


def chunks_of(raw: bytes) -> list[dict]:
    assert raw.endswith(b"\r\n\r\n")
    return [json.loads(piece[len(b"data: "):]) for piece in raw.split(b"\r\n\r\n") if piece]


def test_stream_encoder_whole_calls_and_final_chunk() -> None:
    encoder = GenerateStreamEncoder(model="gemini-x")
    raw = b"".join(encoder.encode(event) for event in [
        TextDelta("Hi"), ToolCallDelta(0, id="c1", name="f", arguments=""), ToolCallDelta(1, id="c2", name="g"),
        ToolCallDelta(1, arguments='{"y":2}'), ToolCallDelta(0, arguments='{"x":1}'), Finish("tool_calls"),
        UsageEvent(Usage(input_tokens=10, output_tokens=7, reasoning_tokens=3, cached_input_tokens=4)),
    ]) + encoder.end()
    chunks = chunks_of(raw)
    assert chunks[0]["candidates"][0]["content"]["parts"] == [{"text": "Hi"}]
    final = chunks[-1]
    assert final["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"id": "c1", "name": "f", "args": {"x": 1}}},
        {"functionCall": {"id": "c2", "name": "g", "args": {"y": 2}}},
    ]
    assert final["candidates"][0]["finishReason"] == "STOP"
    assert final["usageMetadata"] == {"promptTokenCount": 10, "candidatesTokenCount": 4, "totalTokenCount": 17,
                                      "cachedContentTokenCount": 4, "thoughtsTokenCount": 3}


def test_stream_encoder_error_chunk() -> None:
    encoder = GenerateStreamEncoder(model="gemini-x")
    raw = encoder.encode(TextDelta("Hel")) + encoder.encode(StreamError("broke", status=None)) + encoder.end()
    assert chunks_of(raw)[-1] == {"error": {"code": 500, "message": "broke", "status": "INTERNAL"}}


def test_response_builder_content_filter() -> None:
    builder = ResponseBuilder(model="gemini-x")
    for event in [ReasoningDelta("hmm"), TextDelta("So"), Finish("content_filter"), UsageEvent(Usage(input_tokens=3))]:
        builder.add(event)
    response = builder.build()
    assert response["candidates"][0]["finishReason"] == "SAFETY"
    assert response["candidates"][0]["content"]["parts"] == [{"text": "hmm", "thought": True}, {"text": "So"}]


def test_query_keys_masked() -> None:
    line = 'POST /v1beta/models/m:generateContent?alt=sse&key=sk-abcdef123456 HTTP/1.1'
    assert mask_query_keys(line) == 'POST /v1beta/models/m:generateContent?alt=sse&key=****3456 HTTP/1.1'


def test_plugin_registers_through_entry_point() -> None:
    host = load_plugins(load_entry_points=True, only={"gemini"})
    report = host.report("gemini")
    assert report is not None and report.status == "loaded"
    assert report.registered == {"channel_types": ["gemini"], "inbound_formats": ["gemini"]}
