"""The OpenAI adapter against the fake vendor: request bodies, stream events, failures."""

from __future__ import annotations

import json
import time

import pytest
from openai_helpers import CHANNEL_KEY, make_request, make_target, run_chat

from chatnio_host import (
    Finish,
    ImagePart,
    Message,
    ReasoningDelta,
    StreamError,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    UpstreamFailure,
    UsageEvent,
)
from chatnio_host.testing_vendors import Reply, chat_chunk, sse_data

# The upstream writes of the SSE reassembly case, byte for byte.
W1 = b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"He'
W2 = b'llo"},"finish_reason":null}]}\n\ndata:{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":", "},"finish_reason":null}]}\r\n\r\n: keep-alive\n\n'
W3 = b'event: message\ndata: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",\ndata: "choices":[{"index":0,"delta":{"content":"\xe4\xbd\xa0\xe5\xa5'
W4 = b'\xbd\xf0\x9f'
W5 = b'\x8c\x8d"},"finish_reason":null}]}\n\n'
W6 = b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"' + b'a' * 100000 + b'"},"finish_reason":null}]}\n\n'
W7 = b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'


def text_of(events: list, index: int = 0) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta) and event.index == index)


def finishes(events: list) -> list[Finish]:
    return [event for event in events if isinstance(event, Finish)]


def content(text: str, **kwargs) -> bytes:
    return sse_data(chat_chunk({"content": text}, **kwargs))


FINISH = sse_data(chat_chunk({}, finish_reason="stop"))
DONE = b"data: [DONE]\n\n"


# --- request bodies ------------------------------------------------------------------------


async def test_body_always_streams_with_usage(adapter_for, vendor) -> None:
    events = await run_chat(adapter_for(), make_request("hello"), make_target(vendor))
    body = vendor.requests[0].json()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [{"role": "user", "content": "hello"}]
    assert text_of(events) == "hello"
    assert vendor.requests[0].path == "/v1/chat/completions"
    assert vendor.requests[0].headers["authorization"] == f"Bearer {CHANNEL_KEY}"


@pytest.mark.parametrize(
    ("model", "fields", "expected"),
    [
        ("o3-mini", {"max_tokens": 256}, {"max_completion_tokens": 256}),
        ("o1", {"max_tokens": 256}, {"max_completion_tokens": 256}),
        ("o4-mini-2025-04-16", {"max_tokens": 256}, {"max_completion_tokens": 256}),
        ("o3-mini", {"max_tokens": 256, "max_completion_tokens": 300}, {"max_completion_tokens": 300}),
        ("gpt-4o", {"max_tokens": 256}, {"max_tokens": 256}),
        ("gpt-4o", {"max_completion_tokens": 300}, {"max_completion_tokens": 300}),
        ("gpt-4o", {}, {}),
    ],
)
async def test_token_limit_names(adapter_for, vendor, model: str, fields: dict, expected: dict) -> None:
    await run_chat(adapter_for(), make_request("x", model=model, **fields), make_target(vendor, model=model))
    body = vendor.requests[0].json()
    limits = {name: body[name] for name in ("max_tokens", "max_completion_tokens") if name in body}
    assert limits == expected


async def test_token_limit_list_configurable(adapter_for, vendor) -> None:
    target = make_target(vendor, model="my-reasoner", settings={"max_completion_tokens_models": ["my-"]})
    await run_chat(adapter_for(), make_request("x", max_tokens=64), target)
    body = vendor.requests[0].json()
    assert body["max_completion_tokens"] == 64
    assert "max_tokens" not in body


async def test_every_field_passes_through(adapter_for, vendor) -> None:
    request = make_request(
        "x", temperature=0.3, top_p=0.9, presence_penalty=0.1, frequency_penalty=0.2, stop=["END"], n=1, seed=7,
        tools=[Tool(name="lookup", description="find", parameters={"type": "object", "properties": {}}, strict=True)],
        tool_choice="lookup", parallel_tool_calls=False, response_format={"type": "json_object"},
        reasoning_effort="low", user="u1", extra={"logprobs": True, "top_logprobs": 2, "metadata": {"a": "b"}},
    )
    await run_chat(adapter_for(), request, make_target(vendor))
    body = vendor.requests[0].json()
    assert body["temperature"] == 0.3
    assert body["top_p"] == 0.9
    assert body["presence_penalty"] == 0.1
    assert body["frequency_penalty"] == 0.2
    assert body["stop"] == ["END"]
    assert body["seed"] == 7
    assert body["tools"] == [{"type": "function", "function": {
        "name": "lookup", "parameters": {"type": "object", "properties": {}}, "description": "find", "strict": True}}]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert body["parallel_tool_calls"] is False
    assert body["response_format"] == {"type": "json_object"}
    assert body["reasoning_effort"] == "low"
    assert body["user"] == "u1"
    assert body["logprobs"] is True
    assert body["top_logprobs"] == 2
    assert body["metadata"] == {"a": "b"}


async def test_vision_and_tool_messages(adapter_for, vendor) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    request = make_request("x")
    request.messages = [
        Message(role="system", content=[TextPart("be brief")]),
        Message(role="user", content=[TextPart("What is this?"), ImagePart(data=png, media_type="image/png", detail="low")]),
        Message(role="assistant", tool_calls=[ToolCall(id="call_1", name="f", arguments='{"a":1}')]),
        Message(role="tool", tool_call_id="call_1", content=[TextPart("42")]),
    ]
    await run_chat(adapter_for(), request, make_target(vendor))
    messages = vendor.requests[0].json()["messages"]
    assert messages[0] == {"role": "system", "content": "be brief"}
    assert messages[1]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}", "detail": "low"}},
    ]
    assert messages[2] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]}
    assert messages[3] == {"role": "tool", "content": "42", "tool_call_id": "call_1"}


async def test_blank_key_sends_no_auth_header(adapter_for, vendor) -> None:
    await run_chat(adapter_for(), make_request("x"), make_target(vendor, key="  "))
    assert "authorization" not in vendor.requests[0].headers


async def test_key_whitespace_trimmed(adapter_for, vendor) -> None:
    await run_chat(adapter_for(), make_request("x"), make_target(vendor, key="k2 \r"))
    assert vendor.requests[0].headers["authorization"] == "Bearer k2"


async def test_endpoint_forms(adapter_for, vendor) -> None:
    adapter = adapter_for()
    for endpoint in (vendor.url, vendor.url + "/", vendor.url + "/v1", vendor.url + "/v1/chat/completions"):
        await run_chat(adapter, make_request("x"), make_target(vendor, endpoint=endpoint))
    assert [request.path for request in vendor.requests] == ["/v1/chat/completions"] * 4


# --- stream events -------------------------------------------------------------------------


async def test_b01_split_reads_through_adapter(adapter_for, vendor) -> None:
    slices = [W6[i:i + 8192] for i in range(0, len(W6), 8192)]
    vendor.enqueue(Reply.sse([W1, W2, W3, W4, W5, *slices, W7], gap=0.05))
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert text_of(events) == "Hello, 你好🌍" + "a" * 100000
    assert [finish.reason for finish in finishes(events)] == ["stop"]
    assert not [event for event in events if isinstance(event, StreamError)]


async def test_b02_stops_at_done_and_closes(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.sse([content("Hi"), FINISH, DONE], ending="hold", hold_seconds=30))
    started = time.monotonic()
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert time.monotonic() - started < 1.0
    assert text_of(events) == "Hi"
    assert await vendor.requests[0].wait_closed(1.0)


async def test_b02_missing_done_after_finish_is_normal(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.sse([content("Hi"), FINISH]))
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert [finish.reason for finish in finishes(events)] == ["stop"]
    assert not [event for event in events if isinstance(event, StreamError)]


async def test_b02_nothing_after_first_done(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.sse([content("Hi"), FINISH, DONE, content("X"), DONE]))
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert text_of(events) == "Hi"


async def test_b02_truncated_stream_ends_with_error(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.sse([content("Hel")]))
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert text_of(events) == "Hel"
    assert finishes(events) == []
    assert isinstance(events[-1], StreamError)
    assert events[-1].type == "upstream_error"


async def test_b03_usage_only_chunk(adapter_for, vendor) -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 50, "total_tokens": 60}
    vendor.enqueue(Reply.sse([
        sse_data(chat_chunk({"role": "assistant", "content": "OK"}, usage=None)),
        sse_data(chat_chunk({}, finish_reason="stop", usage=None)),
        sse_data(chat_chunk(choices=[], usage=usage)),
        sse_data(chat_chunk({}, usage=None)),
        DONE,
    ]))
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    usages = [event.usage for event in events if isinstance(event, UsageEvent)]
    assert len(usages) == 1
    assert (usages[0].input_tokens, usages[0].output_tokens) == (10, 50)
    assert usages[0].reported


async def test_b03_usage_on_finish_chunk(adapter_for, vendor) -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 11, "total_tokens": 16,
             "prompt_tokens_details": {"cached_tokens": 2}, "completion_tokens_details": {"reasoning_tokens": 3}}
    vendor.enqueue(Reply.sse([content("OK"), sse_data(chat_chunk({}, finish_reason="stop", usage=usage)), DONE]))
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    usage_event = [event for event in events if isinstance(event, UsageEvent)][0]
    assert usage_event.usage.input_tokens == 5
    assert usage_event.usage.output_tokens == 11
    assert usage_event.usage.cached_input_tokens == 2
    assert usage_event.usage.reasoning_tokens == 3


async def test_b03_no_usage_reported(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.sse([content("Hello"), content(" world"), FINISH, DONE]))
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert [event for event in events if isinstance(event, UsageEvent)] == []
    assert text_of(events) == "Hello world"


async def test_b13_choice_indices_kept(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.sse([
        content("AAA", index=0), content("BBB", index=1), content(" aaa", index=0), content(" bbb", index=1),
        sse_data(chat_chunk(choices=[
            {"index": 0, "delta": {}, "finish_reason": "stop"}, {"index": 1, "delta": {}, "finish_reason": "stop"}])),
        DONE,
    ]))
    events = await run_chat(adapter_for(), make_request(n=2), make_target(vendor))
    assert text_of(events, 0) == "AAA aaa"
    assert text_of(events, 1) == "BBB bbb"
    assert [(finish.index, finish.reason) for finish in finishes(events)] == [(0, "stop"), (1, "stop")]


async def test_b13_tool_call_indices_kept(adapter_for, vendor) -> None:
    first = {"role": "assistant", "tool_calls": [
        {"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": ""}}]}
    vendor.enqueue(Reply.sse([
        sse_data(chat_chunk(first)),
        sse_data(chat_chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"y":2}'}}]})),
        sse_data(chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x":1}'}}]})),
        sse_data(chat_chunk({}, finish_reason="tool_calls")),
        DONE,
    ]))
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    calls: dict[int, dict] = {}
    for event in events:
        if isinstance(event, ToolCallDelta):
            call = calls.setdefault(event.tool_index, {"id": None, "name": None, "arguments": ""})
            call["id"] = call["id"] or event.id
            call["name"] = call["name"] or event.name
            call["arguments"] += event.arguments
    assert calls == {0: {"id": "call_a", "name": "f", "arguments": '{"x":1}'},
                     1: {"id": "call_b", "name": "g", "arguments": '{"y":2}'}}
    assert [finish.reason for finish in finishes(events)] == ["tool_calls"]


async def test_reasoning_content_delta(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.sse([sse_data(chat_chunk({"reasoning_content": "think"})), content("ok"), FINISH, DONE]))
    events = await run_chat(adapter_for("deepseek"), make_request(), make_target(vendor, type_name="deepseek"))
    assert [event.text for event in events if isinstance(event, ReasoningDelta)] == ["think"]


async def test_json_answer_to_stream_request(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.json({"id": "x", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}))
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert text_of(events) == "whole"
    assert [event.usage.output_tokens for event in events if isinstance(event, UsageEvent)] == [1]


# --- failures ------------------------------------------------------------------------------


async def test_http_errors_classified_and_masked(adapter_for, vendor) -> None:
    cases = [
        (401, "invalid_api_key", "auth"), (404, "model_not_found", "not_found"),
        (429, "rate_limit_exceeded", "rate_limit"), (400, None, "request"), (503, None, "server"),
    ]
    for status, code, kind in cases:
        vendor.enqueue(Reply.error(status, f"failed for {CHANNEL_KEY} at {vendor.url}/v1", code=code,
                                   headers=[("Retry-After", "2")]))
        with pytest.raises(UpstreamFailure) as caught:
            await run_chat(adapter_for(), make_request(), make_target(vendor, channel_id=5))
        failure = caught.value
        assert failure.kind == kind
        assert failure.status == status
        assert CHANNEL_KEY not in failure.message
        assert vendor.url not in failure.message
        assert "channel://5" in failure.message
        assert failure.retry_after == (2.0 if kind == "rate_limit" else None)


async def test_b05_error_after_content_is_stream_error(adapter_for, vendor) -> None:
    error = {"error": {"message": "Engine queue full, please retry", "type": "server_error", "code": 503}}
    vendor.enqueue(Reply.sse([content("Hel"), sse_data(error), DONE]))
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert text_of(events) == "Hel"
    assert finishes(events) == []
    assert isinstance(events[-1], StreamError)
    assert events[-1].message == "Engine queue full, please retry"
    assert events[-1].type == "server_error"


async def test_b05_first_event_error_retryable(adapter_for, vendor) -> None:
    error = {"error": {"message": "Engine queue full", "type": "server_error", "code": 503}}
    vendor.enqueue(Reply.sse([sse_data(error), DONE]))
    with pytest.raises(UpstreamFailure) as caught:
        await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert caught.value.kind == "server"
    assert caught.value.retryable


async def test_b05_first_event_bad_request_passes(adapter_for, vendor) -> None:
    error = {"error": {"message": "max_tokens too large", "type": "BadRequestError", "code": 400}}
    vendor.enqueue(Reply.sse([sse_data(error), DONE]))
    with pytest.raises(UpstreamFailure) as caught:
        await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert caught.value.kind == "request"
    assert caught.value.status == 400
    assert caught.value.message == "max_tokens too large"
    assert not caught.value.retryable


async def test_b05_reset_after_content(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.sse([content("Hel"), 0.05], ending="reset"))
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert text_of(events) == "Hel"
    assert isinstance(events[-1], StreamError)
    assert finishes(events) == []


async def test_b06_no_headers_times_out(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.stalled())
    started = time.monotonic()
    with pytest.raises(UpstreamFailure) as caught:
        await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 2.0


async def test_b06_idle_after_content(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.sse([content("Hi")], ending="hold", hold_seconds=60))
    started = time.monotonic()
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert 0.9 < time.monotonic() - started < 2.0
    assert text_of(events) == "Hi"
    assert isinstance(events[-1], StreamError)
    assert events[-1].type == "timeout_error"
    assert await vendor.requests[0].wait_closed(1.0)


async def test_b06_pings_end_at_max_duration(adapter_for, vendor) -> None:
    writes: list = [content("Hi")]
    for _ in range(60):
        writes += [0.3, b": ping\n\n"]
    vendor.enqueue(Reply.sse(writes))
    events = await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert isinstance(events[-1], StreamError)
    assert events[-1].type == "timeout_error"


async def test_garbage_event_before_content(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.sse([b"data: {not json\n\n"]))
    with pytest.raises(UpstreamFailure) as caught:
        await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert caught.value.kind == "invalid"


async def test_empty_stream_is_invalid(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.sse([]))
    with pytest.raises(UpstreamFailure) as caught:
        await run_chat(adapter_for(), make_request(), make_target(vendor))
    assert caught.value.kind == "invalid"


async def test_closing_generator_closes_upstream(adapter_for, vendor) -> None:
    vendor.enqueue(Reply.sse([content("a"), content("b"), content("c")] + [0.1, content("d")] * 30))
    stream = adapter_for().chat(make_request(), make_target(vendor))
    seen = 0
    async for event in stream:
        if isinstance(event, TextDelta):
            seen += 1
        if seen == 3:
            break
    await stream.aclose()
    assert await vendor.requests[0].wait_closed(1.0)
    assert vendor.requests[0].closed_early


async def test_tool_call_round_trip_with_echo(adapter_for, vendor) -> None:
    request = make_request("weather", tools=[Tool(name="lookup")])
    events = await run_chat(adapter_for(), request, make_target(vendor))
    deltas = [event for event in events if isinstance(event, ToolCallDelta)]
    assert deltas[0].name == "lookup"
    assert json.loads("".join(delta.arguments for delta in deltas)) == {"text": "weather"}


async def test_connection_reused_after_done(adapter_for, vendor) -> None:
    adapter = adapter_for()
    for _ in range(3):
        await run_chat(adapter, make_request("x"), make_target(vendor))
    assert vendor.connection_count == 1
