"""Canonical requests converted to Gemini generateContent bodies."""

from __future__ import annotations

import pytest

from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import ChatRequest, ImagePart, Message, TextPart, ThinkingPart, Tool, ToolCall

from chatnio_gemini.request import build_generate_body, clean_schema

PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def text(role: str, value: str) -> Message:
    return Message(role=role, content=[TextPart(value)])


def test_system_messages_merged_and_roles_mapped() -> None:
    request = ChatRequest(model="m", messages=[
        text("system", "Be brief."), text("user", "Hi"), text("assistant", "Hello"),
        text("system", "Use English."), text("user", "Bye"),
    ])
    body = build_generate_body(request)
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief.\n\nUse English."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Hello"}]},
        {"role": "user", "parts": [{"text": "Bye"}]},
    ]


def test_max_tokens_to_max_output_tokens() -> None:
    body = build_generate_body(ChatRequest(model="m", messages=[text("user", "x")], max_tokens=300, temperature=0.2))
    assert body["generationConfig"] == {"maxOutputTokens": 300, "temperature": 0.2}


def test_image_inline_data_with_sniffed_type() -> None:
    request = ChatRequest(model="m", messages=[Message(role="user", content=[
        TextPart("What is this?"), ImagePart(data=PNG_1X1, media_type="image/jpeg")])])
    parts = build_generate_body(request)["contents"][0]["parts"]
    assert parts == [{"text": "What is this?"}, {"inlineData": {"mimeType": "image/png", "data": PNG_1X1}}]


def test_remote_image_url_is_400() -> None:
    request = ChatRequest(model="m", messages=[Message(role="user", content=[ImagePart(url="https://example.com/a.png")])])
    with pytest.raises(InvalidRequest) as caught:
        build_generate_body(request)
    assert caught.value.param == "messages[0].content[0]"


def test_tool_results_grouped_after_calls() -> None:
    request = ChatRequest(model="m", messages=[
        text("system", "sys"), text("system", "mid"), text("user", "go"),
        Message(role="assistant", tool_calls=[ToolCall("call_a", "get_weather", '{"city":"Paris"}'),
                                              ToolCall("call_b", "get_time", "")]),
        Message(role="tool", tool_call_id="call_a", content=[TextPart('{"temp": 20}')]),
        Message(role="tool", tool_call_id="call_b", content=[TextPart("noon")]),
    ], tools=[Tool(name="get_weather", parameters={"type": "object", "properties": {"city": {"type": "string"}}}),
              Tool(name="get_time")])
    body = build_generate_body(request)
    assert body["systemInstruction"]["parts"][0]["text"] == "sys\n\nmid"
    assert body["contents"][1] == {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
        {"functionCall": {"name": "get_time", "args": {}}},
    ]}
    assert body["contents"][2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"temp": 20}}},
        {"functionResponse": {"name": "get_time", "response": {"result": "noon"}}},
    ]}


def test_unsupported_schema_keywords_removed() -> None:
    parameters = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "label": {"type": "string", "enum": ["a", "b"]},
            "note": {"type": ["string", "null"], "format": "uri"},
            "kind": {"const": "x"},
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
        },
        "required": ["label"],
        "$defs": {"Item": {"type": "object", "properties": {"n": {"type": "integer"}}, "additionalProperties": False}},
    }
    request = ChatRequest(model="m", messages=[text("user", "x")], tools=[Tool(name="classify", parameters=parameters)],
                          tool_choice="classify")
    body = build_generate_body(request)
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert declaration["parameters"] == {
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": ["a", "b"]},
            "note": {"type": "string", "nullable": True},
            "kind": {"enum": ["x"], "type": "string"},
            "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}}}},
        },
        "required": ["label"],
    }
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["classify"]}}


def test_tool_without_parameters_sends_no_schema() -> None:
    body = build_generate_body(ChatRequest(model="m", messages=[text("user", "x")], tools=[Tool(name="get_time")]))
    assert body["tools"] == [{"functionDeclarations": [{"name": "get_time"}]}]


def test_malformed_schema_is_400() -> None:
    request = ChatRequest(model="m", messages=[text("user", "x")], tools=[Tool(name="bad", parameters={"type": "array"})])
    with pytest.raises(InvalidRequest):
        build_generate_body(request)


@pytest.mark.parametrize(("choice", "mode"), [("auto", "AUTO"), ("none", "NONE"), ("required", "ANY")])
def test_tool_choice_modes(choice: str, mode: str) -> None:
    request = ChatRequest(model="m", messages=[text("user", "x")], tools=[Tool(name="f")], tool_choice=choice)
    assert build_generate_body(request)["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


def test_thought_signature_returned_on_function_call() -> None:
    request = ChatRequest(model="m", messages=[
        text("user", "go"),
        Message(role="assistant", content=[ThinkingPart("", signature="sig-g")], tool_calls=[ToolCall("c1", "f", "{}")]),
        Message(role="tool", tool_call_id="c1", content=[TextPart("done")]),
    ])
    body = build_generate_body(request)
    assert body["contents"][1]["parts"][0] == {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "sig-g"}


def test_reasoning_effort_to_thinking_budget() -> None:
    body = build_generate_body(ChatRequest(model="m", messages=[text("user", "x")], reasoning_effort="low"))
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}


def test_clean_schema_unknown_ref_is_400() -> None:
    with pytest.raises(InvalidRequest):
        clean_schema({"$ref": "#/$defs/Missing"}, {})
