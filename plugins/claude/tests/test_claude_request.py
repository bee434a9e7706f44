"""Canonical requests converted to Anthropic Messages bodies."""

from __future__ import annotations

import pytest

from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import ChatRequest, ImagePart, Message, TextPart, ThinkingPart, Tool, ToolCall

from chatnio_claude.request import DEFAULT_MAX_TOKENS, build_messages_body

PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
BMP_HEAD = "Qk06AAAAAAAAADYAAAAoAAAAAQAAAAEAAAABABgAAAAAAAQAAADEDgAAxA4AAAAAAAAAAAAAAAD/AA=="


def user(text: str) -> Message:
    return Message(role="user", content=[TextPart(text)])


def build(request: ChatRequest, **kwargs) -> dict:
    return build_messages_body(request, "claude-x", stream=False, **kwargs)


def test_system_messages_lifted_and_joined() -> None:
    request = ChatRequest(model="m", messages=[
        Message(role="system", content=[TextPart("Be brief.")]),
        user("Hi"),
        Message(role="system", content=[TextPart("Answer in English.")]),
        user("there"),
    ])
    body = build(request)
    assert body["system"] == "Be brief.\n\nAnswer in English."
    assert all(turn["role"] != "system" for turn in body["messages"])
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"},
                                                              {"type": "text", "text": "there"}]}]


def test_max_tokens_defaulted_or_kept() -> None:
    assert build(ChatRequest(model="m", messages=[user("x")]))["max_tokens"] == DEFAULT_MAX_TOKENS
    assert build(ChatRequest(model="m", messages=[user("x")]), default_max_tokens=1234)["max_tokens"] == 1234
    assert build(ChatRequest(model="m", messages=[user("x")], max_completion_tokens=300))["max_tokens"] == 300
    assert build(ChatRequest(model="m", messages=[user("x")], max_tokens=256))["max_tokens"] == 256


def test_image_media_type_sniffed_from_bytes() -> None:
    request = ChatRequest(model="m", messages=[Message(role="user", content=[
        TextPart("What is this?"), ImagePart(data=PNG_1X1, media_type="image/jpeg")])])
    content = build(request)["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "What is this?"}
    assert content[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1X1}}


def test_image_url_becomes_url_source() -> None:
    request = ChatRequest(model="m", messages=[Message(role="user", content=[ImagePart(url="https://example.com/c.png")])])
    block = build(request)["messages"][0]["content"][0]
    assert block == {"type": "image", "source": {"type": "url", "url": "https://example.com/c.png"}}


def test_bmp_image_rejected_before_call() -> None:
    request = ChatRequest(model="m", messages=[Message(role="user", content=[ImagePart(data=BMP_HEAD)])])
    with pytest.raises(InvalidRequest) as caught:
        build(request)
    assert caught.value.param == "messages[0].content[0]"
    assert "image/bmp" in caught.value.message


def test_tool_without_parameters_gets_empty_object() -> None:
    request = ChatRequest(model="m", messages=[user("time?")], tools=[Tool(name="get_time", parameters={})])
    assert build(request)["tools"] == [{"name": "get_time", "input_schema": {"type": "object", "properties": {}}}]


@pytest.mark.parametrize("parameters", [
    {"type": "string"},
    {"type": "object", "properties": {"a": {"type": 5}}},
    {"type": "object", "properties": ["a"]},
])
def test_malformed_tool_schema_is_400(parameters: dict) -> None:
    request = ChatRequest(model="m", messages=[user("x")], tools=[Tool(name="bad", parameters=parameters)])
    with pytest.raises(InvalidRequest) as caught:
        build(request)
    assert caught.value.param == "tools[0].function.parameters"
    assert "bad" in caught.value.message


@pytest.mark.parametrize(("choice", "parallel", "expected"), [
    ("auto", None, {"type": "auto"}),
    ("required", None, {"type": "any"}),
    ("none", None, {"type": "none"}),
    ("get_weather", None, {"type": "tool", "name": "get_weather"}),
    (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
])
def test_tool_choice_mapped(choice: str | None, parallel: bool | None, expected: dict) -> None:
    request = ChatRequest(model="m", messages=[user("x")], tools=[Tool(name="get_weather")], tool_choice=choice,
                          parallel_tool_calls=parallel)
    assert build(request)["tool_choice"] == expected


def test_tool_choice_unknown_name_is_400() -> None:
    request = ChatRequest(model="m", messages=[user("x")], tools=[Tool(name="a")], tool_choice="b")
    with pytest.raises(InvalidRequest):
        build(request)


def test_tool_results_grouped_into_one_user_turn() -> None:
    request = ChatRequest(model="m", messages=[
        user("weather and time?"),
        Message(role="assistant", tool_calls=[ToolCall("call_1", "get_weather", '{"city":"Paris"}'),
                                              ToolCall("call_2", "get_time", "")]),
        Message(role="tool", tool_call_id="call_1", content=[TextPart("sunny")]),
        Message(role="tool", tool_call_id="call_2", content=[TextPart("noon")]),
        user("thanks"),
    ])
    turns = build(request)["messages"]
    assert [turn["role"] for turn in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
    ]
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": "noon"},
        {"type": "text", "text": "thanks"},
    ]


def test_invalid_tool_arguments_is_400() -> None:
    request = ChatRequest(model="m", messages=[user("x"), Message(role="assistant", tool_calls=[ToolCall("c", "f", "{oops")])])
    with pytest.raises(InvalidRequest) as caught:
        build(request)
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"


def test_thinking_signature_kept_first_in_turn() -> None:
    request = ChatRequest(model="m", thinking_budget=2048, messages=[
        user("weather?"),
        Message(role="assistant", content=[ThinkingPart("I should call it.", signature="sig-1"), TextPart("Checking.")],
                tool_calls=[ToolCall("toolu_1", "get_weather", "{}")]),
        Message(role="tool", tool_call_id="toolu_1", content=[TextPart("sunny")]),
    ], tools=[Tool(name="get_weather")])
    body = build(request)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048
    assert body["messages"][1]["content"][0] == {"type": "thinking", "thinking": "I should call it.", "signature": "sig-1"}
    assert body["messages"][1]["content"][1] == {"type": "text", "text": "Checking."}


def test_thinking_disabled_when_tool_turn_lost_signature() -> None:
    request = ChatRequest(model="m", thinking_budget=2048, messages=[
        user("weather?"),
        Message(role="assistant", content=[ThinkingPart("unsigned")], tool_calls=[ToolCall("t1", "get_weather", "{}")]),
        Message(role="tool", tool_call_id="t1", content=[TextPart("sunny")]),
    ], tools=[Tool(name="get_weather")])
    body = build(request)
    assert "thinking" not in body
    assert body["messages"][1]["content"][0]["type"] == "tool_use"


def test_sampling_and_stop_fields() -> None:
    request = ChatRequest(model="m", messages=[user("x")], temperature=1.5, top_p=0.5, top_k=3, stop=["END"], user="u1")
    body = build_messages_body(request, "claude-x", stream=True)
    assert body["temperature"] == 1.0
    assert body["top_p"] == 0.5
    assert body["top_k"] == 3
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "u1"}
    assert body["stream"] is True
