"""The conversion matrix scenarios: a client request, vendor bytes per channel type, the outcome.

Each scenario is written once. ``client_request`` renders its request in each inbound format
(OpenAI, Anthropic, Gemini); ``vendor_replies`` contains the exact bytes each fake vendor sends for
it; ``expected`` is the outcome every one of the 9 pairs must show after the client's bytes are
read back by ``transcripts.read_transcript``; ``check_upstream`` inspects what the adapter sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatnio_host.testing_vendors.anthropic import anthropic_event, message_events
from chatnio_host.testing_vendors.gemini import gemini_chunk, gemini_sse
from chatnio_host.testing_vendors.openai import chat_chunk, done_event
from chatnio_host.testing_vendors.server import Reply, sse_data

FORMATS = ("openai", "anthropic", "gemini")
CHANNEL_TYPES = ("openai", "claude", "gemini")
MODELS = {"openai": "gpt-4o-mini", "claude": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash"}

PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


@dataclass
class Expected:
    """What the client must see, whatever the pair."""

    text: str = ""
    tools: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finish: str | None = "stop"
    error: bool = False
    reasoning: bool = False
    usage: tuple[int, int, int] | None = None
    """(input tokens including cache reads and writes, cache reads, output tokens)"""


@dataclass
class Scenario:
    name: str
    user: str = "hello"
    system: str | None = None
    image: bool = False
    tools: list[dict[str, Any]] = field(default_factory=list)
    vendor_replies: dict[str, list[Reply]] = field(default_factory=dict)
    expected: Expected = field(default_factory=Expected)
    check_upstream: Callable[[str, dict[str, Any]], None] | None = None
    upstream_requests: int = 1


# --- vendor byte builders ------------------------------------------------------------------


def openai_stream(deltas: list[dict[str, Any]], finish: str | None, usage: dict[str, Any] | None = None,
                  done: bool = True, ending: str = "complete") -> Reply:
    chunks: list[Any] = []
    for index, delta in enumerate(deltas):
        chunks.append(chat_chunk({"role": "assistant", **delta} if index == 0 else delta))
    if finish:
        chunks.append(chat_chunk({}, finish_reason=finish))
    if usage is not None:
        chunks.append(chat_chunk(choices=[], usage=usage))
    if done:
        chunks.append(done_event())
    return Reply.sse(chunks, ending=ending)  # type: ignore[arg-type]


def openai_usage(prompt: int, completion: int, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": reasoning}}


def claude_stream(blocks: list[dict[str, Any]], stop_reason: str, usage: dict[str, Any] | None = None,
                  output_tokens: int | None = None) -> Reply:
    return Reply.sse(message_events(blocks, stop_reason=stop_reason, usage=usage, output_tokens=output_tokens))


def gemini_stream(chunks: list[dict[str, Any]], ending: str = "complete") -> Reply:
    return Reply.sse([gemini_sse(chunk) for chunk in chunks], ending=ending)  # type: ignore[arg-type]


def gemini_usage(prompt: int, candidates: int, cached: int = 0, thoughts: int = 0) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
                             "totalTokenCount": prompt + candidates + thoughts}
    if cached:
        usage["cachedContentTokenCount"] = cached
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def claude_usage(uncached: int, cache_read: int = 0, cache_write: int = 0) -> dict[str, Any]:
    return {"input_tokens": uncached, "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": cache_write}


def _tool_call_delta(index: int, call_id: str | None, name: str | None, arguments: str) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index}
    if call_id:
        call.update({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}})
    else:
        call["function"] = {"arguments": arguments}
    return {"tool_calls": [call]}


WEATHER = {"name": "get_weather", "description": "Current weather of a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
TIME = {"name": "get_time", "description": "The current time.", "parameters": None}


# --- upstream checks -------------------------------------------------------------------------


def _check_system(channel_type: str, body: dict[str, Any]) -> None:
    if channel_type == "openai":
        assert body["messages"][0] == {"role": "system", "content": "You are terse."}, body["messages"]
    elif channel_type == "claude":
        assert body["system"] == "You are terse.", body
        assert all(turn["role"] != "system" for turn in body["messages"])
    else:
        assert body["systemInstruction"] == {"parts": [{"text": "You are terse."}]}, body
        assert all(turn["role"] in ("user", "model") for turn in body["contents"])


def _check_image(channel_type: str, body: dict[str, Any]) -> None:
    if channel_type == "openai":
        parts = body["messages"][-1]["content"]
        image = next(part for part in parts if part["type"] == "image_url")
        assert image["image_url"]["url"].endswith(PNG_1X1), image
    elif channel_type == "claude":
        blocks = body["messages"][-1]["content"]
        assert blocks[0] == {"type": "text", "text": "What is this?"}, blocks
        assert blocks[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1X1}}
    else:
        parts = body["contents"][-1]["parts"]
        assert parts[0] == {"text": "What is this?"}, parts
        assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": PNG_1X1}}, parts


def _check_no_parameter_tool(channel_type: str, body: dict[str, Any]) -> None:
    if channel_type == "openai":
        function = body["tools"][0]["function"]
        assert function["name"] == "get_time"
        assert function.get("parameters", {"type": "object", "properties": {}}) == {"type": "object", "properties": {}}
    elif channel_type == "claude":
        assert body["tools"] == [{"name": "get_time", "description": "The current time.",
                                  "input_schema": {"type": "object", "properties": {}}}], body["tools"]
    else:
        assert body["tools"] == [{"functionDeclarations": [{"name": "get_time", "description": "The current time."}]}]


# --- scenarios -------------------------------------------------------------------------------


def _plain() -> Scenario:
    return Scenario(
        name="plain_text",
        vendor_replies={
            "openai": [openai_stream([{"content": "Hello"}, {"content": " world"}], "stop", openai_usage(10, 2))],
            "claude": [claude_stream([{"type": "text", "text": "Hello world"}], "end_turn", claude_usage(10), 2)],
            "gemini": [gemini_stream([gemini_chunk([{"text": "Hello"}]),
                                      gemini_chunk([{"text": " world"}], finish_reason="STOP",
                                                   usage=gemini_usage(10, 2))])],
        },
        expected=Expected(text="Hello world", usage=(10, 0, 2)),
    )


def _system() -> Scenario:
    scenario = _plain()
    scenario.name = "system_prompt"
    scenario.system = "You are terse."
    scenario.check_upstream = _check_system
    return scenario


def _images() -> Scenario:
    scenario = _plain()
    scenario.name = "images"
    scenario.user = "What is this?"
    scenario.image = True
    scenario.check_upstream = _check_image
    return scenario


def _one_tool() -> Scenario:
    arguments = '{"city":"Paris"}'
    return Scenario(
        name="one_tool_call",
        user="Weather in Paris?",
        tools=[WEATHER],
        vendor_replies={
            "openai": [openai_stream([_tool_call_delta(0, "call_1", "get_weather", arguments)], "tool_calls",
                                     openai_usage(30, 8))],
            "claude": [claude_stream([{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                       "input": {"city": "Paris"}}], "tool_use", claude_usage(30), 8)],
            "gemini": [gemini_stream([gemini_chunk([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
                                                   finish_reason="STOP", usage=gemini_usage(30, 8))])],
        },
        expected=Expected(tools=[("get_weather", {"city": "Paris"})], finish="tool_calls", usage=(30, 0, 8)),
    )


def _parallel_tools() -> Scenario:
    return Scenario(
        name="parallel_tool_calls",
        user="Weather in Paris and Rome?",
        tools=[WEATHER],
        vendor_replies={
            "openai": [openai_stream([
                {"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                 "function": {"name": "get_weather", "arguments": ""}},
                                {"index": 1, "id": "call_b", "type": "function",
                                 "function": {"name": "get_weather", "arguments": ""}}]},
                _tool_call_delta(1, None, None, '{"city":"Rome"}'),
                _tool_call_delta(0, None, None, '{"city":"Paris"}'),
            ], "tool_calls", openai_usage(40, 16))],
            "claude": [claude_stream([
                {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {"city": "Rome"}},
            ], "tool_use", claude_usage(40), 16)],
            "gemini": [gemini_stream([gemini_chunk([
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
            ], finish_reason="STOP", usage=gemini_usage(40, 16))])],
        },
        expected=Expected(tools=[("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})],
                          finish="tool_calls", usage=(40, 0, 16)),
    )


def _no_parameter_tool() -> Scenario:
    return Scenario(
        name="tool_without_parameters",
        user="What time is it?",
        tools=[TIME],
        vendor_replies={
            "openai": [openai_stream([_tool_call_delta(0, "call_t", "get_time", "{}")], "tool_calls",
                                     openai_usage(20, 3))],
            "claude": [claude_stream([{"type": "tool_use", "id": "toolu_t", "name": "get_time", "input": {}}],
                                     "tool_use", claude_usage(20), 3)],
            "gemini": [gemini_stream([gemini_chunk([{"functionCall": {"name": "get_time", "args": {}}}],
                                                   finish_reason="STOP", usage=gemini_usage(20, 3))])],
        },
        expected=Expected(tools=[("get_time", {})], finish="tool_calls", usage=(20, 0, 3)),
        check_upstream=_check_no_parameter_tool,
    )


def _fragments() -> Scenario:
    fragments = ['{"ci', 'ty": "San Fra', 'ncisco"}']
    claude_frames = [
        anthropic_event("message_start", {"type": "message_start", "message": {
            "id": "msg_f", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 25, "output_tokens": 1}}}),
        anthropic_event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": "toolu_f", "name": "get_weather", "input": {}}}),
        anthropic_event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                "delta": {"type": "input_json_delta", "partial_json": ""}}),
        *[anthropic_event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                  "delta": {"type": "input_json_delta", "partial_json": piece}})
          for piece in fragments],
        anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        anthropic_event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use",
                                                                            "stop_sequence": None},
                                          "usage": {"output_tokens": 9}}),
        anthropic_event("message_stop", {"type": "message_stop"}),
    ]
    return Scenario(
        name="argument_fragments",
        user="Weather in San Francisco?",
        tools=[WEATHER],
        vendor_replies={
            "openai": [openai_stream([_tool_call_delta(0, "call_f", "get_weather", "")] +
                                     [_tool_call_delta(0, None, None, piece) for piece in fragments],
                                     "tool_calls", openai_usage(25, 9))],
            "claude": [Reply.sse(claude_frames)],
            "gemini": [gemini_stream([gemini_chunk([{"functionCall": {"name": "get_weather",
                                                                      "args": {"city": "San Francisco"}}}],
                                                   finish_reason="STOP", usage=gemini_usage(25, 9))])],
        },
        expected=Expected(tools=[("get_weather", {"city": "San Francisco"})], finish="tool_calls", usage=(25, 0, 9)),
    )


def _reasoning() -> Scenario:
    return Scenario(
        name="reasoning",
        user="Think, then answer.",
        vendor_replies={
            "openai": [openai_stream([{"reasoning_content": "Let me think."}, {"content": "Done."}], "stop",
                                     openai_usage(12, 9, reasoning=5))],
            "claude": [claude_stream([{"type": "thinking", "thinking": "Let me think.", "signature": "sig-claude"},
                                      {"type": "text", "text": "Done."}], "end_turn", claude_usage(12), 9)],
            "gemini": [gemini_stream([gemini_chunk([{"text": "Let me think.", "thought": True}]),
                                      gemini_chunk([{"text": "Done."}], finish_reason="STOP",
                                                   usage=gemini_usage(12, 4, thoughts=5))])],
        },
        expected=Expected(text="Done.", reasoning=True, usage=(12, 0, 9)),
    )


def _cached_usage() -> Scenario:
    return Scenario(
        name="usage_with_cached_tokens",
        vendor_replies={
            "openai": [openai_stream([{"content": "Hi"}], "stop", openai_usage(1200, 5, cached=1000))],
            "claude": [claude_stream([{"type": "text", "text": "Hi"}], "end_turn", claude_usage(200, cache_read=1000), 5)],
            "gemini": [gemini_stream([gemini_chunk([{"text": "Hi"}], finish_reason="STOP",
                                                   usage=gemini_usage(1200, 5, cached=1000))])],
        },
        expected=Expected(text="Hi", usage=(1200, 1000, 5)),
    )


def _truncated() -> Scenario:
    claude_frames = message_events([{"type": "text", "text": "Hel"}])[:5]
    return Scenario(
        name="truncated_stream",
        vendor_replies={
            "openai": [openai_stream([{"content": "Hel"}], None, None, done=False, ending="close")],
            "claude": [Reply.sse(claude_frames, ending="close")],
            "gemini": [gemini_stream([gemini_chunk([{"text": "Hel"}])], ending="close")],
        },
        expected=Expected(text="Hel", finish=None, error=True),
    )


def _error_before_content() -> Scenario:
    overloaded_openai = Reply.sse([sse_data({"error": {"message": "Engine queue full", "type": "server_error",
                                                       "code": 503}}), done_event()])
    overloaded_claude = Reply.sse([message_events([])[0], anthropic_event("error", {
        "type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})])
    overloaded_gemini = Reply.sse([gemini_sse({"error": {"code": 503, "message": "The model is overloaded.",
                                                         "status": "UNAVAILABLE"}})])
    healthy = _plain().vendor_replies
    return Scenario(
        name="error_before_content",
        vendor_replies={
            "openai": [overloaded_openai, *healthy["openai"]],
            "claude": [overloaded_claude, *healthy["claude"]],
            "gemini": [overloaded_gemini, *healthy["gemini"]],
        },
        expected=Expected(text="Hello world", usage=(10, 0, 2)),
        upstream_requests=2,
    )


def _safety() -> Scenario:
    return Scenario(
        name="safety_block",
        vendor_replies={
            "openai": [openai_stream([{"content": "Some"}], "content_filter", openai_usage(12, 1))],
            "claude": [claude_stream([{"type": "text", "text": "Some"}], "refusal", claude_usage(12), 1)],
            "gemini": [gemini_stream([gemini_chunk([{"text": "Some"}], finish_reason="SAFETY",
                                                   usage=gemini_usage(12, 1))])],
        },
        expected=Expected(text="Some", finish="content_filter", usage=(12, 0, 1)),
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "plain_text": _plain,
    "system_prompt": _system,
    "images": _images,
    "one_tool_call": _one_tool,
    "parallel_tool_calls": _parallel_tools,
    "tool_without_parameters": _no_parameter_tool,
    "argument_fragments": _fragments,
    "reasoning": _reasoning,
    "usage_with_cached_tokens": _cached_usage,
    "truncated_stream": _truncated,
    "error_before_content": _error_before_content,
    "safety_block": _safety,
}


# --- client requests -------------------------------------------------------------------------


def client_request(scenario: Scenario, inbound: str, model: str) -> tuple[str, dict[str, Any]]:
    """Return the path and JSON body of ``scenario``'s streamed request in format ``inbound``."""
    if inbound == "openai":
        content: Any = scenario.user
        if scenario.image:
            content = [{"type": "text", "text": scenario.user},
                       {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{PNG_1X1}", "detail": "low"}}]
        messages = ([{"role": "system", "content": scenario.system}] if scenario.system else []) + [
            {"role": "user", "content": content}]
        body: dict[str, Any] = {"model": model, "stream": True, "stream_options": {"include_usage": True},
                                "messages": messages}
        if scenario.tools:
            body["tools"] = [{"type": "function", "function": {
                k: v for k, v in tool.items() if v is not None}} for tool in scenario.tools]
        return "/v1/chat/completions", body
    if inbound == "anthropic":
        blocks: Any = scenario.user
        if scenario.image:
            blocks = [{"type": "text", "text": scenario.user},
                      {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG_1X1}}]
        body = {"model": model, "max_tokens": 256, "stream": True, "messages": [{"role": "user", "content": blocks}]}
        if scenario.system:
            body["system"] = scenario.system
        if scenario.tools:
            body["tools"] = [{"name": tool["name"], "description": tool["description"],
                              "input_schema": tool["parameters"] or {"type": "object", "properties": {}}}
                             for tool in scenario.tools]
        return "/v1/messages", body
    parts: list[dict[str, Any]] = [{"text": scenario.user}]
    if scenario.image:
        parts.append({"inlineData": {"mimeType": "image/jpeg", "data": PNG_1X1}})
    body = {"contents": [{"role": "user", "parts": parts}]}
    if scenario.system:
        body["systemInstruction"] = {"parts": [{"text": scenario.system}]}
    if scenario.tools:
        declarations = []
        for tool in scenario.tools:
            declaration = {"name": tool["name"], "description": tool["description"]}
            if tool["parameters"]:
                declaration["parameters"] = tool["parameters"]
            declarations.append(declaration)
        body["tools"] = [{"functionDeclarations": declarations}]
    return f"/v1beta/models/{model}:streamGenerateContent?alt=sse", body
